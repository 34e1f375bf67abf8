-- Reports for moderators (Mastodon's Report): from a local user (POST /api/v1/reports) or from
-- another server (a Flag, reported by its actor). Status and rule ids are JSON arrays.
CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_ids_json TEXT NOT NULL DEFAULT '[]',
    rule_ids_json TEXT NOT NULL DEFAULT '[]',
    comment TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT 'other',
    forwarded BOOLEAN NOT NULL DEFAULT FALSE,
    uri TEXT,
    action_taken_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX reports_target ON reports (target_account_id);
CREATE INDEX reports_unresolved ON reports (id) WHERE action_taken_at IS NULL;
CREATE UNIQUE INDEX reports_uri ON reports (uri) WHERE uri IS NOT NULL;

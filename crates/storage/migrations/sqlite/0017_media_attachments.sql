-- Media attachments (Mastodon's media_attachments): uploads of local accounts, attached to one
-- status once posted. Files live in the file store under the keys kept here; `meta_json` is
-- Mastodon's `meta` without the focus, `focus` its "x,y".
CREATE TABLE media_attachments (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id INTEGER REFERENCES statuses (id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    file_key TEXT,
    content_type TEXT,
    file_size INTEGER NOT NULL DEFAULT 0,
    small_key TEXT,
    upload_key TEXT,
    thumbnail_key TEXT,
    description TEXT,
    focus TEXT,
    blurhash TEXT,
    meta_json TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
);
CREATE INDEX media_attachments_status ON media_attachments (status_id) WHERE status_id IS NOT NULL;
-- Unattached uploads, oldest first, for the clean-up of those never posted.
CREATE INDEX media_attachments_unattached ON media_attachments (created_at) WHERE status_id IS NULL;
CREATE INDEX media_attachments_account ON media_attachments (account_id, id);

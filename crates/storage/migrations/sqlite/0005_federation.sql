-- ActivityPub: where remote actors receive activities, their keys, activity ids of follows and
-- likes, delivery failure tracking and domain blocks.

ALTER TABLE accounts ADD COLUMN actor_type TEXT NOT NULL DEFAULT 'Person';
ALTER TABLE accounts ADD COLUMN inbox_url TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN shared_inbox_url TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN outbox_url TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN followers_url TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN featured_url TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN avatar_remote_url TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN header_remote_url TEXT NOT NULL DEFAULT '';
-- The actor's key (SPKI PEM) and its id (the actor URI with a fragment, or a URL of its own).
ALTER TABLE accounts ADD COLUMN public_key_pem TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
-- When a remote actor was last fetched.
ALTER TABLE accounts ADD COLUMN fetched_at INTEGER;
CREATE UNIQUE INDEX accounts_uri ON accounts (uri);
CREATE INDEX accounts_key_id ON accounts (key_id) WHERE key_id <> '';

-- Local accounts' private keys, apart so that no account query ever reads them by accident.
CREATE TABLE account_keys (
    account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    private_key_pem TEXT NOT NULL
);

-- The Follow activity's id (Accept, Reject and Undo name it); the Like's id for remote likes.
ALTER TABLE relations ADD COLUMN uri TEXT;
CREATE INDEX relations_uri ON relations (uri) WHERE uri IS NOT NULL;
ALTER TABLE status_marks ADD COLUMN uri TEXT;

CREATE UNIQUE INDEX statuses_uri ON statuses (uri);

-- Delivery failures per domain, as Mastodon's DeliveryFailureTracker: the distinct days on
-- which deliveries failed; a domain failing on 7 days is unavailable until it answers again.
CREATE TABLE delivery_failures (
    domain TEXT PRIMARY KEY,
    failure_days TEXT NOT NULL DEFAULT '',
    unavailable_since INTEGER
);

CREATE TABLE domain_blocks (
    domain TEXT PRIMARY KEY,
    severity TEXT NOT NULL,
    reject_media INTEGER NOT NULL DEFAULT 0,
    reject_reports INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

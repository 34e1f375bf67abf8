-- Invitations to sign up (Mastodon's invites): a code, how often it may be used and until when;
-- an invited sign-up needs no approval and may come when sign-ups are otherwise closed.
CREATE TABLE invites (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code TEXT NOT NULL UNIQUE,
    max_uses INTEGER,
    uses INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX invites_user ON invites (user_id, id);

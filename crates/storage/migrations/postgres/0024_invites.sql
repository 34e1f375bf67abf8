-- Invitations to sign up (Mastodon's invites): a code, how often it may be used and until when;
-- an invited sign-up needs no approval and may come when sign-ups are otherwise closed.
CREATE TABLE invites (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code TEXT NOT NULL UNIQUE,
    max_uses BIGINT,
    uses BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX invites_user ON invites (user_id, id);

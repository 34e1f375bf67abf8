-- Single-use tokens sent by mail (Devise's confirmation and reset-password tokens), by hash:
-- a confirmation names the address it confirms.
CREATE TABLE mail_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX mail_tokens_user ON mail_tokens (user_id, kind);

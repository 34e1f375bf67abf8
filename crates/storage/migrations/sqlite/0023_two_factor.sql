-- Two-factor sign-in (Mastodon's TOTP): a user's secret (enabled once a code confirmed it), the
-- last time step a code was taken at (no code is taken twice), recovery codes by hash, and the
-- browser sessions that passed the password and wait for the second step.
CREATE TABLE user_otp (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    enabled_at INTEGER,
    last_step INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE user_recovery_codes (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);
CREATE TABLE otp_challenges (
    session_id INTEGER PRIMARY KEY REFERENCES web_sessions (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    -- Wrong codes given so far; the challenge goes after a few.
    attempts INTEGER NOT NULL DEFAULT 0
);

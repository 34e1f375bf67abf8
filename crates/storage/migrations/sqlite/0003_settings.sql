-- Instance settings an admin changes at run time (Mastodon's `settings` table), as text.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

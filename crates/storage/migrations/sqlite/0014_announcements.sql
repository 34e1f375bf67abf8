-- Announcements by the admins (Mastodon's Announcement, AnnouncementMute, AnnouncementReaction).
-- A mute is a user's dismissal (`read`).
CREATE TABLE announcements (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    published BOOLEAN NOT NULL DEFAULT FALSE,
    all_day BOOLEAN NOT NULL DEFAULT FALSE,
    scheduled_at INTEGER,
    starts_at INTEGER,
    ends_at INTEGER,
    published_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE announcement_mutes (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    announcement_id INTEGER NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, announcement_id)
);
CREATE TABLE announcement_reactions (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    announcement_id INTEGER NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, announcement_id, name)
);
CREATE INDEX announcement_reactions_announcement ON announcement_reactions (announcement_id, name);

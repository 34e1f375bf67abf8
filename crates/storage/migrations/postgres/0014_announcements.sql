-- Announcements by the admins (Mastodon's Announcement, AnnouncementMute, AnnouncementReaction).
-- A mute is a user's dismissal (`read`).
CREATE TABLE announcements (
    id BIGINT PRIMARY KEY,
    text TEXT NOT NULL,
    published BOOLEAN NOT NULL DEFAULT FALSE,
    all_day BOOLEAN NOT NULL DEFAULT FALSE,
    scheduled_at BIGINT,
    starts_at BIGINT,
    ends_at BIGINT,
    published_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE announcement_mutes (
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    announcement_id BIGINT NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, announcement_id)
);
CREATE TABLE announcement_reactions (
    id BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    announcement_id BIGINT NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (account_id, announcement_id, name)
);
CREATE INDEX announcement_reactions_announcement ON announcement_reactions (announcement_id, name);

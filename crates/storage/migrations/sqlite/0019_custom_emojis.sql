-- This server's custom emoji (Mastodon's custom_emojis with an empty domain): the image as it
-- was given and a still PNG, by key in the file store.
CREATE TABLE custom_emojis (
    id INTEGER PRIMARY KEY,
    shortcode TEXT NOT NULL UNIQUE,
    image_key TEXT NOT NULL,
    static_key TEXT NOT NULL,
    content_type TEXT NOT NULL,
    category TEXT,
    visible_in_picker INTEGER NOT NULL DEFAULT TRUE,
    disabled INTEGER NOT NULL DEFAULT FALSE,
    created_at INTEGER NOT NULL
);

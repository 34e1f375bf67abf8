-- The custom emoji an account's display name, bio and fields use, as JSON
-- `[{"shortcode","url"}]` (a remote actor's Emoji tags; a local account's own emoji).
ALTER TABLE accounts ADD COLUMN emojis_json TEXT NOT NULL DEFAULT '[]';

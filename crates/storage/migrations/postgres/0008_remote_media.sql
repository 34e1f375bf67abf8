-- What a remote post shows besides its text, as its server describes it (linked where it is,
-- until media are cached here): attachments and custom emoji, as JSON arrays.
ALTER TABLE statuses ADD COLUMN media_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE statuses ADD COLUMN emojis_json TEXT NOT NULL DEFAULT '[]';

-- The avatar and header of local accounts, as keys in the file store (Mastodon's
-- avatar_file_name and header_file_name); NULL for none.
ALTER TABLE accounts ADD COLUMN avatar_file TEXT;
ALTER TABLE accounts ADD COLUMN header_file TEXT;

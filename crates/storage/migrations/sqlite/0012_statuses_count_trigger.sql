-- An account's statuses_count and last_status_at move with each status stored, as the insert's
-- own work (one statement less per status: the ingest of remote posts is bound by statements).
-- Direct statuses count nowhere, as on Mastodon. Decrements stay with the deletions.
CREATE TRIGGER statuses_count_on_insert AFTER INSERT ON statuses
WHEN NEW.visibility <> 'direct'
BEGIN
    UPDATE accounts SET statuses_count = statuses_count + 1, last_status_at = NEW.created_at
    WHERE id = NEW.account_id;
END;

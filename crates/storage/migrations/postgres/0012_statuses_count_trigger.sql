-- An account's statuses_count and last_status_at move with each status stored, as the insert's
-- own work (one statement less per status: the ingest of remote posts is bound by statements).
-- Direct statuses count nowhere, as on Mastodon. Decrements stay with the deletions.
CREATE FUNCTION statuses_count_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET statuses_count = statuses_count + 1, last_status_at = NEW.created_at
    WHERE id = NEW.account_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER statuses_count_on_insert AFTER INSERT ON statuses
FOR EACH ROW WHEN (NEW.visibility <> 'direct') EXECUTE FUNCTION statuses_count_on_insert();

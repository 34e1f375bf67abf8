-- The mentions table indexes each status' own mentions_json (who it mentions, for
-- notifications, direct messages and the home timeline): the database keeps it in step when a
-- status is stored or its mentions change, as part of that statement.
CREATE FUNCTION mentions_from_json() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM mentions WHERE status_id = NEW.id;
    END IF;
    INSERT INTO mentions (status_id, account_id)
    SELECT NEW.id, (m ->> 'id')::bigint FROM jsonb_array_elements(NEW.mentions_json::jsonb) AS m
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER mentions_on_insert AFTER INSERT ON statuses
FOR EACH ROW WHEN (NEW.mentions_json <> '[]') EXECUTE FUNCTION mentions_from_json();
CREATE TRIGGER mentions_on_update AFTER UPDATE OF mentions_json ON statuses
FOR EACH ROW EXECUTE FUNCTION mentions_from_json();

-- The mentions table indexes each status' own mentions_json (who it mentions, for
-- notifications, direct messages and the home timeline): the database keeps it in step when a
-- status is stored or its mentions change, as part of that statement.
CREATE TRIGGER mentions_on_insert AFTER INSERT ON statuses
WHEN NEW.mentions_json <> '[]'
BEGIN
    INSERT INTO mentions (status_id, account_id)
    SELECT NEW.id, json_extract(value, '$.id') FROM json_each(NEW.mentions_json) WHERE TRUE
    ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER mentions_on_update AFTER UPDATE OF mentions_json ON statuses
BEGIN
    DELETE FROM mentions WHERE status_id = NEW.id;
    INSERT INTO mentions (status_id, account_id)
    SELECT NEW.id, json_extract(value, '$.id') FROM json_each(NEW.mentions_json) WHERE TRUE
    ON CONFLICT DO NOTHING;
END;

-- Each team's number of calls, kept by a trigger, so that the call list's
-- unfiltered total is one row read instead of a count of every call. Calls
-- are never deleted today; the trigger keeps the count right if they ever
-- are. The counter row is updated in the inserting transaction; call
-- creation already serializes per team (its live-call cap), so this adds
-- no new wait there.
CREATE TABLE team_call_counts (
    team_id TEXT PRIMARY KEY,
    calls BIGINT NOT NULL
);
INSERT INTO team_call_counts (team_id, calls) SELECT team_id, COUNT(*) FROM calls GROUP BY team_id;
CREATE FUNCTION calls_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE team_call_counts SET calls = calls - 1 WHERE team_id = OLD.team_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO team_call_counts (team_id, calls) VALUES (NEW.team_id, 1)
            ON CONFLICT (team_id) DO UPDATE SET calls = team_call_counts.calls + 1;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER calls_count_insert_delete AFTER INSERT OR DELETE ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_count_change();
CREATE TRIGGER calls_count_move AFTER UPDATE OF team_id ON calls
    FOR EACH ROW WHEN (OLD.team_id IS DISTINCT FROM NEW.team_id) EXECUTE FUNCTION calls_count_change();

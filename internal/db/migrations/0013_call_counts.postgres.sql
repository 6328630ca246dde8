-- Each team's number of calls, kept by triggers, so that the call list's
-- unfiltered total is one row read instead of a count of every call.
-- Statement-level triggers add each statement's rows per team at once: a
-- row-level one would update the counter once per row, and PostgreSQL
-- cannot prune the versions one transaction leaves of a row, so a large
-- INSERT ... SELECT would slow down quadratically. Calls are never deleted
-- or moved between teams today; the delete trigger keeps the count right
-- if they ever are deleted. The counter row is updated in the inserting
-- transaction; call creation already serializes per team (its live-call
-- cap), so this adds no new wait there.
CREATE TABLE team_call_counts (
    team_id TEXT PRIMARY KEY,
    calls BIGINT NOT NULL
);
INSERT INTO team_call_counts (team_id, calls) SELECT team_id, COUNT(*) FROM calls GROUP BY team_id;
CREATE FUNCTION calls_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO team_call_counts (team_id, calls)
        SELECT team_id, COUNT(*) FROM calls_inserted GROUP BY team_id
        ON CONFLICT (team_id) DO UPDATE SET calls = team_call_counts.calls + EXCLUDED.calls;
    RETURN NULL;
END;
$$;
CREATE FUNCTION calls_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE team_call_counts c SET calls = c.calls - d.n
        FROM (SELECT team_id, COUNT(*) AS n FROM calls_deleted GROUP BY team_id) d
        WHERE c.team_id = d.team_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER calls_count_insert AFTER INSERT ON calls
    REFERENCING NEW TABLE AS calls_inserted FOR EACH STATEMENT EXECUTE FUNCTION calls_count_inserted();
CREATE TRIGGER calls_count_delete AFTER DELETE ON calls
    REFERENCING OLD TABLE AS calls_deleted FOR EACH STATEMENT EXECUTE FUNCTION calls_count_deleted();

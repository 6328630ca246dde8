-- Callback targets are read a session at a time, on the hot path of every
-- inbound call (the carrier's dynamic-variables request and the lookup
-- tool). As a rowid table, a session's targets were ten look-ups into the
-- table through an index; stored WITHOUT ROWID in (session_id,
-- created_at, id) order, they sit together and are read in one range
-- scan, already in the order the API lists them. PostgreSQL keeps its
-- heap table and index.
CREATE TABLE callback_targets_by_session (
    id TEXT NOT NULL,
    session_id TEXT NOT NULL REFERENCES inbound_sessions(id),
    team_id TEXT NOT NULL,
    label TEXT,
    organization_name TEXT,
    contact_name TEXT,
    known_phone_numbers TEXT NOT NULL,
    aliases TEXT NOT NULL,
    match_hints TEXT NOT NULL,
    context_variables TEXT NOT NULL,
    priority INTEGER NOT NULL,
    suggested_handoff_target_agent_id TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (session_id, created_at, id)
) WITHOUT ROWID;
INSERT INTO callback_targets_by_session (id, session_id, team_id, label, organization_name, contact_name,
        known_phone_numbers, aliases, match_hints, context_variables, priority, suggested_handoff_target_agent_id,
        created_at, updated_at)
    SELECT id, session_id, team_id, label, organization_name, contact_name, known_phone_numbers, aliases,
        match_hints, context_variables, priority, suggested_handoff_target_agent_id, created_at, updated_at
    FROM callback_targets;
DROP TABLE callback_targets;
ALTER TABLE callback_targets_by_session RENAME TO callback_targets;
-- Targets are addressed by id, and upserted on it.
CREATE UNIQUE INDEX callback_targets_id_idx ON callback_targets (id);

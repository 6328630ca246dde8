-- Inbound callback sessions, the callers they expect (callback targets and
-- expected callers).
CREATE TABLE inbound_sessions (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    phone_number_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    callback_window_seconds INTEGER NOT NULL,
    allowed_caller_number TEXT,
    context_variables TEXT NOT NULL,
    webhook_url TEXT,
    external_session_id TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX inbound_sessions_team_idx ON inbound_sessions (team_id, created_at);
CREATE INDEX inbound_sessions_number_idx ON inbound_sessions (phone_number_id, status, expires_at);
CREATE INDEX inbound_sessions_expiry_idx ON inbound_sessions (status, expires_at);

CREATE TABLE callback_targets (
    id TEXT PRIMARY KEY,
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
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX callback_targets_session_idx ON callback_targets (session_id, created_at);

CREATE TABLE expected_callers (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES inbound_sessions(id),
    team_id TEXT NOT NULL,
    phone_number TEXT NOT NULL,
    contact_name TEXT,
    label TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX expected_callers_session_idx ON expected_callers (session_id, created_at);

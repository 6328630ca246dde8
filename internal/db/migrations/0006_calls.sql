-- Voice calls placed by agents, the numbered log of what happened to each,
-- and the artifacts assembled after a call ends.
CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    agent_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    status TEXT NOT NULL,
    status_rank INTEGER NOT NULL,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    phone_number_id TEXT,
    provider TEXT NOT NULL,
    provider_agent_id TEXT NOT NULL,
    provider_call_id TEXT,
    call_session_id TEXT,
    brief_text TEXT,
    brief_variables TEXT NOT NULL,
    dynamic_variables TEXT NOT NULL,
    objectives TEXT NOT NULL,
    overrides TEXT NOT NULL,
    webhook_url TEXT,
    idempotency_key TEXT,
    request_hash TEXT,
    dispatch TEXT NOT NULL,
    reply_status INTEGER,
    error_code TEXT,
    error_detail TEXT,
    hangup_cause TEXT,
    hangup_source TEXT,
    answered_by TEXT,
    duration_seconds INTEGER,
    result_status TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    initiated_at TIMESTAMPTZ,
    ringing_at TIMESTAMPTZ,
    answered_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX calls_idempotency_key ON calls (team_id, idempotency_key);
CREATE UNIQUE INDEX calls_provider_key ON calls (provider_call_id);
CREATE INDEX calls_team_idx ON calls (team_id, created_at);
CREATE INDEX calls_live_idx ON calls (team_id, status_rank);

CREATE TABLE call_events (
    call_id TEXT NOT NULL REFERENCES calls(id),
    seq INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (call_id, seq)
);

CREATE TABLE call_results (
    call_id TEXT PRIMARY KEY REFERENCES calls(id),
    conversation_id TEXT,
    transcript TEXT NOT NULL,
    summary TEXT,
    structured_data TEXT NOT NULL,
    insights TEXT NOT NULL,
    objectives TEXT NOT NULL,
    recording_id TEXT,
    created_at TIMESTAMPTZ NOT NULL
);

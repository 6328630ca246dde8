-- Voice agents and their immutable versions. The behavioural settings live
-- in one JSON document per row; channels are also kept as ",a,b," text so
-- lists can filter on them portably.
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    name TEXT NOT NULL,
    settings JSONB NOT NULL,
    channels TEXT NOT NULL,
    metadata JSONB NOT NULL,
    provider TEXT NOT NULL,
    provider_agent_id TEXT,
    provider_sync_status TEXT NOT NULL,
    provider_sync_error TEXT,
    sync_generation BIGINT NOT NULL,
    current_version INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE INDEX agents_team_idx ON agents (team_id, created_at);
CREATE INDEX agents_provider_idx ON agents (provider_agent_id);

CREATE TABLE agent_versions (
    agent_id TEXT NOT NULL REFERENCES agents(id),
    version_number INTEGER NOT NULL,
    team_id TEXT NOT NULL,
    name TEXT NOT NULL,
    settings JSONB NOT NULL,
    changed_fields TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (agent_id, version_number)
);

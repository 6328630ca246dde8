-- Numbers a team has put in its pool, leased to one inbound session at a
-- time, then draining and cooling down before the next lease.
CREATE TABLE number_pool (
    phone_number_id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    status TEXT NOT NULL,
    session_id TEXT,
    state_until TIMESTAMPTZ,
    leases INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX number_pool_team_idx ON number_pool (team_id, status);
CREATE INDEX number_pool_due_idx ON number_pool (status, state_until);
CREATE INDEX number_pool_session_idx ON number_pool (session_id);

-- Phone numbers a team holds (each carrier number by at most one team), and
-- carrier-side resources Peak Voice creates once per account.
CREATE TABLE phone_numbers (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    phone_number TEXT NOT NULL,
    provider TEXT NOT NULL,
    provider_number_id TEXT NOT NULL,
    status TEXT NOT NULL,
    sms_capable BOOLEAN NOT NULL,
    voice_capable BOOLEAN NOT NULL,
    voice_agent_id TEXT,
    label TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX phone_numbers_number_key ON phone_numbers (phone_number);
CREATE INDEX phone_numbers_team_idx ON phone_numbers (team_id, created_at);

CREATE TABLE carrier_resources (
    name TEXT PRIMARY KEY,
    provider_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

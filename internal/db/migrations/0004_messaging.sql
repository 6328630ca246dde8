-- SMS in both directions, their conversation threads, inbound messages for
-- numbers no team holds, and carrier events already applied (dedupe).
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    phone_number_id TEXT,
    our_number TEXT NOT NULL,
    remote_number TEXT NOT NULL,
    message_count INTEGER NOT NULL,
    inbound_count INTEGER NOT NULL,
    outbound_count INTEGER NOT NULL,
    last_message_at TIMESTAMPTZ NOT NULL,
    last_message_preview TEXT NOT NULL,
    last_direction TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX conversations_pair_key ON conversations (team_id, our_number, remote_number);
CREATE INDEX conversations_activity_idx ON conversations (team_id, last_message_at);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    direction TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    phone_number_id TEXT,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    text TEXT NOT NULL,
    media_urls TEXT NOT NULL,
    segments INTEGER NOT NULL,
    status TEXT NOT NULL,
    status_rank INTEGER NOT NULL,
    provider_message_id TEXT,
    error_code TEXT,
    error_detail TEXT,
    webhook_url TEXT,
    idempotency_key TEXT,
    request_hash TEXT,
    dispatch TEXT NOT NULL,
    reply_status INTEGER,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ,
    delivered_at TIMESTAMPTZ,
    failed_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX messages_idempotency_key ON messages (team_id, idempotency_key);
CREATE UNIQUE INDEX messages_provider_key ON messages (provider_message_id);
CREATE INDEX messages_team_idx ON messages (team_id, direction, created_at);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at);
CREATE INDEX messages_dispatch_idx ON messages (dispatch, created_at);

CREATE TABLE unrouted_messages (
    id TEXT PRIMARY KEY,
    provider_message_id TEXT NOT NULL,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    text TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX unrouted_messages_provider_key ON unrouted_messages (provider_message_id);

CREATE TABLE carrier_events (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);

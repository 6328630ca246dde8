-- Inbound calls remember the session that routed them.
ALTER TABLE calls ADD COLUMN inbound_session_id TEXT;
CREATE INDEX calls_session_idx ON calls (inbound_session_id);

-- When the reconciler last asked the carrier about an outbound message whose
-- delivery state had stopped moving; NULL until it first does.
ALTER TABLE messages ADD COLUMN checked_at TIMESTAMPTZ;
CREATE INDEX messages_unsettled_idx ON messages (status_rank, updated_at);

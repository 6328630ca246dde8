-- Event detail and redelivery look deliveries up by event; without this
-- index SQLite scanned every delivery of the team (found by pvbench).
CREATE INDEX webhook_deliveries_event_created_idx ON webhook_deliveries (event_id, team_id, created_at);

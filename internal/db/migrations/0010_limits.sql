-- Token buckets shared by every replica on PostgreSQL: per-team call
-- creation, and sign-in attempts per email and per client address. Each row
-- holds the tokens left at updated_at; refill is computed on read. A single
-- SQLite process keeps its buckets in memory and never writes here.
CREATE TABLE rate_buckets (
    bucket TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX rate_buckets_updated_idx ON rate_buckets (updated_at);

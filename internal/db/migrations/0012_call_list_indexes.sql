-- The call list orders a team's calls by (created_at DESC, id DESC) and
-- counts them for the page's total. With id in the index the page is read
-- straight off the index, stopping after offset + limit entries, instead
-- of sorting every matching call; the count reads only the index. The
-- status and agent filters get indexes of their own in the same order, so
-- a filtered page or count does not visit calls of other statuses or
-- agents; the trailing columns let a count that also filters on direction
-- (or status) be answered from the index alone.
CREATE INDEX calls_team_created_idx ON calls (team_id, created_at, id);
CREATE INDEX calls_team_status_created_idx ON calls (team_id, status, created_at, id, direction);
CREATE INDEX calls_team_agent_created_idx ON calls (team_id, agent_id, created_at, id, status, direction);
-- Superseded by calls_team_created_idx (same leading columns).
DROP INDEX calls_team_idx;

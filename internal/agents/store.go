package agents

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
)

// ErrNotFound is returned for an agent (or version) that does not exist in
// the team, including deleted agents and other teams' ids.
var ErrNotFound = errors.New("agent not found")

func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// channelsColumn stores channels as ",a,b," so LIKE '%,a,%' filters them.
func channelsColumn(ch []string) string { return "," + strings.Join(ch, ",") + "," }

func insertAgent(ctx context.Context, tx *sql.Tx, r row) error {
	settings, err := encodeJSON(r.Settings)
	if err != nil {
		return err
	}
	meta, err := encodeJSON(r.Metadata)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO agents (id, team_id, name, settings, channels, metadata, provider,
		provider_agent_id, provider_sync_status, provider_sync_error, sync_generation, current_version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.ID, r.TeamID, r.Name, settings, channelsColumn(r.Settings.Channels), meta, r.Settings.DefaultVoiceProvider,
		nullString(r.ProviderAgentID), r.SyncStatus, nullString(r.SyncError), r.SyncGeneration, r.CurrentVersion,
		r.CreatedAt, r.Updated)
	return err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// updateAgent stores a changed agent. When the change must reach the
// runtime (push), it marks the agent pending and bumps its sync generation
// so that the outcome of a push of older settings cannot be recorded.
func updateAgent(ctx context.Context, tx *sql.Tx, r row, push bool) error {
	settings, err := encodeJSON(r.Settings)
	if err != nil {
		return err
	}
	meta, err := encodeJSON(r.Metadata)
	if err != nil {
		return err
	}
	if !push {
		_, err = tx.ExecContext(ctx, `UPDATE agents SET metadata = $1, updated_at = $2
			WHERE id = $3 AND team_id = $4 AND deleted_at IS NULL`, meta, r.Updated, r.ID, r.TeamID)
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE agents SET name = $1, settings = $2, channels = $3, metadata = $4,
		provider_sync_status = $5, sync_generation = sync_generation + 1, current_version = $6, updated_at = $7
		WHERE id = $8 AND team_id = $9 AND deleted_at IS NULL`,
		r.Name, settings, channelsColumn(r.Settings.Channels), meta, SyncPending, r.CurrentVersion, r.Updated, r.ID, r.TeamID)
	return err
}

func insertVersion(ctx context.Context, tx *sql.Tx, r row, changed []string) error {
	settings, err := encodeJSON(r.Settings)
	if err != nil {
		return err
	}
	fields, err := encodeJSON(changed)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO agent_versions (agent_id, version_number, team_id, name, settings, changed_fields, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.ID, r.CurrentVersion, r.TeamID, r.Name, settings, fields, r.Updated)
	return err
}

const agentCols = `id, team_id, name, settings, metadata, provider_agent_id, provider_sync_status, provider_sync_error,
	sync_generation, current_version, created_at, updated_at`

func scanAgent(sc db.Scanner) (row, error) {
	var r row
	var settings, meta string
	var pid, serr sql.NullString
	err := sc.Scan(&r.ID, &r.TeamID, &r.Name, &settings, &meta, &pid, &r.SyncStatus, &serr,
		&r.SyncGeneration, &r.CurrentVersion, &r.CreatedAt, &r.Updated)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(settings), &r.Settings); err != nil {
		return r, fmt.Errorf("agent %s settings: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(meta), &r.Metadata); err != nil {
		return r, fmt.Errorf("agent %s metadata: %w", r.ID, err)
	}
	r.Settings = r.Settings.withEmptyCollections()
	r.ProviderAgentID, r.SyncError = pid.String, serr.String
	r.CreatedAt, r.Updated = r.CreatedAt.UTC(), r.Updated.UTC()
	return r, nil
}

// load reads a live agent of the team.
func (s *Service) load(ctx context.Context, q db.Querier, teamID, id string) (row, error) {
	return scanAgent(q.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents
		WHERE id = $1 AND team_id = $2 AND deleted_at IS NULL`, id, teamID))
}

// ListFilter narrows an agent listing.
type ListFilter struct {
	Channel    string
	SyncStatus string
	Name       string
}

func listAgents(ctx context.Context, q db.Querier, teamID string, f ListFilter, limit, offset int) ([]row, int, error) {
	w := db.NewWhere("team_id = ?", teamID)
	w.Raw("deleted_at IS NULL")
	if f.Channel != "" {
		w.Add("channels LIKE ?", "%,"+f.Channel+",%")
	}
	w.AddIf("provider_sync_status = ?", f.SyncStatus)
	w.AddIf("name = ?", f.Name)
	return db.Page(ctx, q, agentCols, "agents", w, "created_at DESC, id DESC", limit, offset, scanAgent)
}

// teamAgents reads every live agent of a team (for handoff back-references).
func teamAgents(ctx context.Context, q db.Querier, teamID string) ([]row, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+agentCols+` FROM agents WHERE team_id = $1 AND deleted_at IS NULL
		ORDER BY created_at, id`, teamID)
	return db.Collect(rows, err, scanAgent)
}

// recordSync stores the outcome of a push, unless the agent changed since
// the pushed settings were read (generation moved on): the newer push will
// tell the truth instead. It reports whether it wrote.
func recordSync(ctx context.Context, tx *sql.Tx, id string, generation int64, status, syncErr, providerID string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE agents SET provider_sync_status = $1, provider_sync_error = $2,
		provider_agent_id = COALESCE($3, provider_agent_id), updated_at = $4
		WHERE id = $5 AND sync_generation = $6 AND deleted_at IS NULL`,
		status, nullString(syncErr), nullString(providerID), now, id, generation)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// markDeleted hides an agent at once and returns its assistant id.
func markDeleted(ctx context.Context, tx *sql.Tx, teamID, id string, now time.Time) (string, error) {
	var pid sql.NullString
	err := tx.QueryRowContext(ctx, `UPDATE agents SET deleted_at = $1, updated_at = $1, provider_sync_status = $2,
		sync_generation = sync_generation + 1
		WHERE id = $3 AND team_id = $4 AND deleted_at IS NULL RETURNING provider_agent_id`,
		now, SyncDeleting, id, teamID).Scan(&pid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return pid.String, err
}

const versionCols = `agent_id, version_number, name, settings, changed_fields, created_at`

func scanVersion(sc db.Scanner) (AgentVersion, error) {
	var v AgentVersion
	var settings, changed string
	err := sc.Scan(&v.AgentID, &v.VersionNumber, &v.Name, &settings, &changed, &v.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal([]byte(settings), &v.Settings); err != nil {
		return v, err
	}
	if err := json.Unmarshal([]byte(changed), &v.ChangedFields); err != nil {
		return v, err
	}
	v.Settings = v.Settings.withEmptyCollections()
	v.CreatedAt = v.CreatedAt.UTC()
	return v, nil
}

func listVersions(ctx context.Context, q db.Querier, teamID, agentID string, limit, offset int) ([]AgentVersion, int, error) {
	w := db.NewWhere("agent_id = ?", agentID)
	w.Add("team_id = ?", teamID)
	return db.Page(ctx, q, versionCols, "agent_versions", w, "version_number DESC", limit, offset, scanVersion)
}

func versionByNumber(ctx context.Context, q db.Querier, teamID, agentID string, n int) (AgentVersion, error) {
	return scanVersion(q.QueryRowContext(ctx, `SELECT `+versionCols+` FROM agent_versions
		WHERE agent_id = $1 AND team_id = $2 AND version_number = $3`, agentID, teamID, n))
}

// loadAny reads an agent by id whatever its state (for the delete worker).
func loadAny(ctx context.Context, q db.Querier, id string) (row, error) {
	return scanAgent(q.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE id = $1`, id))
}

func setDeleted(ctx context.Context, q db.Querier, id string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE agents SET provider_sync_status = $1, updated_at = $2 WHERE id = $3 AND deleted_at IS NOT NULL`,
		syncDeleted, now, id)
	return err
}

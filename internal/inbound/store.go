package inbound

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
)

var errNotFound = errors.New("not found")

const sessionCols = `id, team_id, phone_number_id, agent_id, status, expires_at, callback_window_seconds,
	allowed_caller_number, context_variables, webhook_url, external_session_id, created_at, updated_at`

func scanSession(r db.Scanner) (Session, error) {
	var s Session
	var allowed, hook, ext sql.NullString
	var vars string
	err := r.Scan(&s.ID, &s.teamID, &s.PhoneNumberID, &s.AgentID, &s.Status, &s.ExpiresAt, &s.CallbackWindowSeconds,
		&allowed, &vars, &hook, &ext, &s.CreatedAt, &s.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return s, errNotFound
	}
	s.AllowedCallerNumber, s.WebhookURL, s.ExternalSessionID = db.StrPtr(allowed), db.StrPtr(hook), db.StrPtr(ext)
	s.ContextVariables = fromJSON(vars, map[string]any{})
	s.ExpiresAt, s.CreatedAt, s.UpdatedAt = s.ExpiresAt.UTC(), s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s, err
}

func insertSession(ctx context.Context, q db.Querier, s Session) error {
	_, err := q.ExecContext(ctx, `INSERT INTO inbound_sessions (`+sessionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		s.ID, s.teamID, s.PhoneNumberID, s.AgentID, s.Status, s.ExpiresAt, s.CallbackWindowSeconds,
		s.AllowedCallerNumber, jsonText(s.ContextVariables), s.WebhookURL, s.ExternalSessionID, s.CreatedAt, s.UpdatedAt)
	return err
}

func updateSession(ctx context.Context, q db.Querier, s Session) error {
	_, err := q.ExecContext(ctx, `UPDATE inbound_sessions SET status = $1, expires_at = $2, callback_window_seconds = $3,
		context_variables = $4, updated_at = $5 WHERE id = $6 AND team_id = $7`,
		s.Status, s.ExpiresAt, s.CallbackWindowSeconds, jsonText(s.ContextVariables), s.UpdatedAt, s.ID, s.teamID)
	return err
}

func sessionByID(ctx context.Context, q db.Querier, teamID, id string) (Session, error) {
	return scanSession(q.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM inbound_sessions WHERE id = $1 AND team_id = $2`, id, teamID))
}

// SessionFilter narrows the session list.
type SessionFilter struct {
	AgentID, Status, ExternalSessionID, PhoneNumberID string
}

func listSessions(ctx context.Context, q db.Querier, teamID string, f SessionFilter, at time.Time, limit, offset int) ([]Session, int, error) {
	w := db.NewWhere("team_id = ?", teamID)
	w.AddIf("agent_id = ?", f.AgentID)
	w.AddIf("external_session_id = ?", f.ExternalSessionID)
	w.AddIf("phone_number_id = ?", f.PhoneNumberID)
	// Statuses as of now: a ready session past its expiry lists as expired.
	switch f.Status {
	case "":
		w.Raw("status <> 'deleted'")
	case StatusReady:
		w.Raw("status = 'ready'")
		w.Add("expires_at > ?", at)
	case StatusExpired:
		w.Add("(status = 'expired' OR (status = 'ready' AND expires_at <= ?))", at)
	default:
		w.Add("status = ?", f.Status)
	}
	return db.Page(ctx, q, sessionCols, "inbound_sessions", w, "created_at DESC, id DESC", limit, offset, scanSession)
}

// expireDue marks ready sessions past their expiry as expired.
func expireDue(ctx context.Context, q db.Querier, at time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `UPDATE inbound_sessions SET status = 'expired', updated_at = $1
		WHERE status = 'ready' AND expires_at <= $1`, at)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

const targetCols = `id, session_id, label, organization_name, contact_name, known_phone_numbers, aliases, match_hints,
	context_variables, priority, suggested_handoff_target_agent_id, created_at, updated_at`

func scanTarget(r db.Scanner) (Target, error) {
	var t Target
	var label, org, contact, handoff sql.NullString
	var phones, aliases, hints, vars string
	err := r.Scan(&t.ID, &t.SessionID, &label, &org, &contact, &phones, &aliases, &hints, &vars, &t.Priority, &handoff,
		&t.CreatedAt, &t.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return t, errNotFound
	}
	t.Label, t.OrganizationName, t.ContactName, t.SuggestedHandoffTargetAgentID = db.StrPtr(label), db.StrPtr(org), db.StrPtr(contact), db.StrPtr(handoff)
	t.KnownPhoneNumbers = fromJSON(phones, []string{})
	t.Aliases = fromJSON(aliases, []string{})
	t.MatchHints = fromJSON(hints, map[string]any{})
	t.ContextVariables = fromJSON(vars, map[string]any{})
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, err
}

func upsertTarget(ctx context.Context, q db.Querier, teamID string, t Target) error {
	_, err := q.ExecContext(ctx, `INSERT INTO callback_targets (`+targetCols+`, team_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (id) DO UPDATE SET label = excluded.label, organization_name = excluded.organization_name,
			contact_name = excluded.contact_name, known_phone_numbers = excluded.known_phone_numbers,
			aliases = excluded.aliases, match_hints = excluded.match_hints, context_variables = excluded.context_variables,
			priority = excluded.priority, suggested_handoff_target_agent_id = excluded.suggested_handoff_target_agent_id,
			updated_at = excluded.updated_at`,
		t.ID, t.SessionID, t.Label, t.OrganizationName, t.ContactName, jsonText(t.KnownPhoneNumbers), jsonText(t.Aliases),
		jsonText(t.MatchHints), jsonText(t.ContextVariables), t.Priority, t.SuggestedHandoffTargetAgentID, t.CreatedAt, t.UpdatedAt, teamID)
	return err
}

// targetsOfSQL reads a session's targets in the order the API lists them;
// on SQLite the table is stored in that order (migration 0016).
const targetsOfSQL = `SELECT ` + targetCols + ` FROM callback_targets WHERE session_id = $1 ORDER BY created_at, id`

func targetsOf(ctx context.Context, q db.Querier, sessionID string) ([]Target, error) {
	rows, err := q.QueryContext(ctx, targetsOfSQL, sessionID)
	return db.Collect(rows, err, scanTarget)
}

// candidatesOf is who a caller of the session may be: its callback
// targets, then its expected callers as targets that match by their one
// number or their name, with no context variables, and below every
// target in priority, so a caller who is both is told their target's
// context rather than being ambiguous.
func candidatesOf(ctx context.Context, q db.Querier, sessionID string) ([]Target, error) {
	targets, err := targetsOf(ctx, q, sessionID)
	if err != nil {
		return nil, err
	}
	callers, err := callersOf(ctx, q, sessionID)
	if err != nil {
		return nil, err
	}
	for _, c := range callers {
		targets = append(targets, Target{ID: c.ID, SessionID: c.SessionID, Label: c.Label, ContactName: c.ContactName,
			KnownPhoneNumbers: []string{c.PhoneNumber}, Aliases: []string{}, MatchHints: map[string]any{},
			ContextVariables: map[string]any{}, Priority: math.MinInt32, expectedCaller: true})
	}
	return targets, nil
}

func targetByID(ctx context.Context, q db.Querier, sessionID, id string) (Target, error) {
	return scanTarget(q.QueryRowContext(ctx, `SELECT `+targetCols+` FROM callback_targets WHERE id = $1 AND session_id = $2`, id, sessionID))
}

func deleteRow(ctx context.Context, q db.Querier, table, sessionID, id string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = $1 AND session_id = $2`, id, sessionID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

const callerCols = `id, session_id, phone_number, contact_name, label, created_at, updated_at`

func scanCaller(r db.Scanner) (ExpectedCaller, error) {
	var c ExpectedCaller
	var name, label sql.NullString
	err := r.Scan(&c.ID, &c.SessionID, &c.PhoneNumber, &name, &label, &c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return c, errNotFound
	}
	c.ContactName, c.Label = db.StrPtr(name), db.StrPtr(label)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

func upsertCaller(ctx context.Context, q db.Querier, teamID string, c ExpectedCaller) error {
	_, err := q.ExecContext(ctx, `INSERT INTO expected_callers (`+callerCols+`, team_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET phone_number = excluded.phone_number, contact_name = excluded.contact_name,
			label = excluded.label, updated_at = excluded.updated_at`,
		c.ID, c.SessionID, c.PhoneNumber, c.ContactName, c.Label, c.CreatedAt, c.UpdatedAt, teamID)
	return err
}

func callersOf(ctx context.Context, q db.Querier, sessionID string) ([]ExpectedCaller, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+callerCols+` FROM expected_callers WHERE session_id = $1 ORDER BY created_at, id`, sessionID)
	return db.Collect(rows, err, scanCaller)
}

func callerByID(ctx context.Context, q db.Querier, sessionID, id string) (ExpectedCaller, error) {
	return scanCaller(q.QueryRowContext(ctx, `SELECT `+callerCols+` FROM expected_callers WHERE id = $1 AND session_id = $2`, id, sessionID))
}

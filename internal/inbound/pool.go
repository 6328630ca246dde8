package inbound

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/numbers"
)

// Pool entry statuses. A pooled number is available until a session leases
// it; when the session ends it drains (late callers still reach that
// session's agent), then cools down (no new lease; late callers reach the
// number's fallback), then is available again.
const (
	PoolAvailable = "available"
	PoolLeased    = "leased"
	PoolDraining  = "draining"
	PoolCooldown  = "cooldown"
)

// Default pool durations.
const (
	DefaultPoolDrain    = time.Hour
	DefaultPoolCooldown = 24 * time.Hour
)

// Pool error codes.
const (
	CodePoolExhausted   = "number_pool_exhausted"
	CodePoolUnavailable = "pool_number_unavailable"
	CodePoolBusy        = "pool_number_in_use"
	CodeAlreadyPooled   = "phone_number_already_pooled"
)

// PoolEntry is a number in the team's pool.
type PoolEntry struct {
	PhoneNumberID string     `json:"phone_number_id"`
	PhoneNumber   string     `json:"phone_number"`
	Status        string     `json:"status" enum:"available,leased,draining,cooldown"`
	SessionID     *string    `json:"inbound_session_id" doc:"The session holding or last holding the number (leased, draining, cooldown)."`
	StateUntil    *time.Time `json:"state_until" doc:"When draining or cooldown ends."`
	Leases        int        `json:"leases" doc:"How many sessions have leased the number."`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

const poolCols = `p.phone_number_id, n.phone_number, p.status, p.session_id, p.state_until, p.leases, p.created_at, p.updated_at`
const poolFrom = `number_pool p JOIN phone_numbers n ON n.id = p.phone_number_id`

func scanPool(r db.Scanner) (PoolEntry, error) {
	var e PoolEntry
	var sid sql.NullString
	var until sql.NullTime
	err := r.Scan(&e.PhoneNumberID, &e.PhoneNumber, &e.Status, &sid, &until, &e.Leases, &e.CreatedAt, &e.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return e, errNotFound
	}
	e.SessionID = db.StrPtr(sid)
	if until.Valid {
		u := until.Time.UTC()
		e.StateUntil = &u
	}
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return e, err
}

// AddToPool puts one of the team's numbers in its pool.
func (s *Service) AddToPool(ctx context.Context, teamID, phoneNumberID string) (PoolEntry, error) {
	if _, err := s.cfg.Numbers.Get(ctx, teamID, phoneNumberID); err != nil {
		if numbers.IsNotFound(err) {
			return PoolEntry{}, httpapi.NewError(http.StatusNotFound, CodePhoneNumberNotFound, "phone_number_id is not a number of your team")
		}
		return PoolEntry{}, err
	}
	at := db.Now()
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO number_pool (phone_number_id, team_id, status, leases, created_at, updated_at)
		VALUES ($1, $2, 'available', 0, $3, $3)`, phoneNumberID, teamID, at)
	if db.IsUniqueViolation(err) {
		return PoolEntry{}, httpapi.NewError(http.StatusConflict, CodeAlreadyPooled, "the number is already in the pool")
	}
	if err != nil {
		return PoolEntry{}, err
	}
	return s.poolEntry(ctx, s.db.R, teamID, phoneNumberID)
}

func (s *Service) poolEntry(ctx context.Context, q db.Querier, teamID, phoneNumberID string) (PoolEntry, error) {
	return scanPool(q.QueryRowContext(ctx, `SELECT `+poolCols+` FROM `+poolFrom+` WHERE p.phone_number_id = $1 AND p.team_id = $2`,
		phoneNumberID, teamID))
}

// RemoveFromPool takes an available number out of the pool.
func (s *Service) RemoveFromPool(ctx context.Context, teamID, phoneNumberID string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		e, err := s.poolEntry(ctx, tx, teamID, phoneNumberID)
		if err != nil {
			return err
		}
		if e.Status != PoolAvailable {
			return httpapi.NewError(http.StatusConflict, CodePoolBusy, "the number is "+e.Status+"; it can leave the pool once available")
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM number_pool WHERE phone_number_id = $1 AND team_id = $2`, phoneNumberID, teamID)
		return err
	})
}

// ListPool lists the team's pool entries.
func (s *Service) ListPool(ctx context.Context, teamID, status string, p httpapi.PageParams) ([]PoolEntry, int, error) {
	w := db.NewWhere("p.team_id = ?", teamID)
	w.AddIf("p.status = ?", status)
	return db.Page(ctx, s.db.R, poolCols, poolFrom, w, "p.created_at, p.phone_number_id", p.Limit(), p.Offset(), scanPool)
}

// lease gives a session a pooled number inside the session's transaction:
// the named one if it is pooled and available, or any available one. It
// returns "" (no error) when the named number is not pooled at all.
func lease(ctx context.Context, tx *sql.Tx, teamID, phoneNumberID, sessionID string, any bool, at time.Time) (string, error) {
	var id string
	var err error
	if any {
		err = tx.QueryRowContext(ctx, `SELECT phone_number_id FROM number_pool WHERE team_id = $1 AND status = 'available'
			ORDER BY leases, phone_number_id LIMIT 1`, teamID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return "", httpapi.NewError(http.StatusConflict, CodePoolExhausted, "no pooled number is available; add numbers to the pool or wait for one to cool down")
		}
	} else {
		var status string
		err = tx.QueryRowContext(ctx, `SELECT phone_number_id, status FROM number_pool WHERE team_id = $1 AND phone_number_id = $2`,
			teamID, phoneNumberID).Scan(&id, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		if err == nil && status != PoolAvailable {
			return "", httpapi.NewError(http.StatusConflict, CodePoolUnavailable, "this pooled number is "+status)
		}
	}
	if err != nil {
		return "", err
	}
	// The status guard makes two sessions racing for one number safe: only
	// one update matches.
	res, err := tx.ExecContext(ctx, `UPDATE number_pool SET status = 'leased', session_id = $1, state_until = NULL,
		leases = leases + 1, updated_at = $2 WHERE phone_number_id = $3 AND status = 'available'`, sessionID, at, id)
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return "", httpapi.NewError(http.StatusConflict, CodePoolUnavailable, "the pooled number was just taken; try again")
	}
	return id, nil
}

// endLease starts draining the number a session held, if it held one.
func (s *Service) endLease(ctx context.Context, q db.Querier, sessionID string, at time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE number_pool SET status = 'draining', state_until = $1, updated_at = $2
		WHERE session_id = $3 AND status = 'leased'`, at.Add(s.cfg.PoolDrain), at, sessionID)
	return err
}

// advancePool moves entries whose draining or cooldown has run out, and
// starts draining numbers whose session expired.
func (s *Service) advancePool(ctx context.Context, at time.Time) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE number_pool SET status = 'draining', state_until = $1, updated_at = $2
			WHERE status = 'leased' AND session_id IN (SELECT id FROM inbound_sessions WHERE status <> 'ready' OR expires_at <= $2)`,
			at.Add(s.cfg.PoolDrain), at); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE number_pool SET status = 'available', session_id = NULL, state_until = NULL, updated_at = $1
			WHERE status = 'cooldown' AND state_until <= $1`, at); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE number_pool SET status = 'cooldown', state_until = $1, updated_at = $2
			WHERE status = 'draining' AND state_until <= $2`, at.Add(s.cfg.PoolCooldown), at)
		return err
	})
}

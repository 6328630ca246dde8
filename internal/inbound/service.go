// Package inbound is inbound voice: callback sessions that tie one of a
// team's numbers and an agent to a window of time, the callers they expect
// (callback targets and expected callers), and how a caller is recognised.
package inbound

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/jobs"
	"github.com/peakvoice/peakvoice/internal/numbers"
	"github.com/peakvoice/peakvoice/internal/phonenum"
	"github.com/peakvoice/peakvoice/internal/webhooks"
)

// Config configures the service.
type Config struct {
	DB       *db.DB
	Numbers  *numbers.Service
	Agents   numbers.AgentResolver // checks agent ids belong to the team
	Webhooks *webhooks.Service
	// Calls and Assistants serve the gate; set them with SetCalls.
	Calls      CallLog
	Assistants Assistants
	// SweepEvery is how often expired sessions are written down and pool
	// entries advance (default 10 s).
	SweepEvery time.Duration
	// PoolDrain and PoolCooldown time a pooled number's return after its
	// session ends (defaults 1 h and 24 h).
	PoolDrain, PoolCooldown time.Duration
	Logger                  *slog.Logger
}

// Service is the inbound domain.
type Service struct {
	cfg Config
	db  *db.DB
	log *slog.Logger
	// rq is the read pool the hot per-call reads use; SQLite connections
	// keep their statements prepared (db.Open).
	rq db.Querier
}

// New builds the service and registers its expiry sweeper in reg.
func New(cfg Config, reg *jobs.Registry) *Service {
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = 10 * time.Second
	}
	if cfg.PoolDrain <= 0 {
		cfg.PoolDrain = DefaultPoolDrain
	}
	if cfg.PoolCooldown <= 0 {
		cfg.PoolCooldown = DefaultPoolCooldown
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger}
	if cfg.DB != nil {
		s.rq = cfg.DB.R
	}
	jobs.Register(reg, &expireWorker{s: s})
	reg.Every(cfg.SweepEvery, func() river.JobArgs { return expireArgs{} })
	return s
}

// Error codes of this domain.
const (
	CodePhoneNumberNotFound = "phone_number_not_found"
	CodeAgentNotFound       = "agent_not_found"
	CodeInvalidPhoneNumber  = "invalid_phone_number"
	CodeInvalidExpiry       = "invalid_expires_at"
	CodeSessionClosed       = "session_closed"
	CodeInvalidStatus       = "invalid_status_transition"
)

func notFound(what string) *httpapi.Error {
	return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, "no such "+what)
}

// Window limits.
const (
	minWindow = 60
	maxWindow = 30 * 24 * 3600
)

// SessionInput is a create request.
type SessionInput struct {
	PhoneNumberID string
	// UseNumberPool leases any available pooled number instead of naming one.
	UseNumberPool         bool
	AgentID               string
	ExpiresAt             *time.Time
	CallbackWindowSeconds *int
	AllowedCallerNumber   *string
	ContextVariables      map[string]any
	WebhookURL            *string
	ExternalSessionID     *string
}

// CreateSession opens a session on one of the team's numbers for one of its
// agents. expires_at defaults to now + callback_window_seconds (3600).
func (s *Service) CreateSession(ctx context.Context, teamID string, in SessionInput) (Session, error) {
	if (in.PhoneNumberID == "") == !in.UseNumberPool {
		return Session{}, httpapi.NewError(http.StatusUnprocessableEntity, "invalid_session_number",
			"give phone_number_id, or use_number_pool: true to lease a pooled number")
	}
	if !in.UseNumberPool {
		if _, err := s.cfg.Numbers.Get(ctx, teamID, in.PhoneNumberID); err != nil {
			if numbers.IsNotFound(err) {
				return Session{}, httpapi.NewError(http.StatusNotFound, CodePhoneNumberNotFound, "phone_number_id is not a number of your team")
			}
			return Session{}, err
		}
	}
	if err := s.checkAgent(ctx, teamID, "agent_id", in.AgentID); err != nil {
		return Session{}, err
	}
	at := db.Now()
	sess := Session{ID: uuid.Must(uuid.NewV7()).String(), PhoneNumberID: in.PhoneNumberID, AgentID: in.AgentID,
		Status: StatusReady, CallbackWindowSeconds: DefaultCallbackWindow, ContextVariables: in.ContextVariables,
		ExternalSessionID: in.ExternalSessionID, CreatedAt: at, UpdatedAt: at, teamID: teamID,
		CallbackTargets: []Target{}, ExpectedCallers: []ExpectedCaller{}}
	if sess.ContextVariables == nil {
		sess.ContextVariables = map[string]any{}
	}
	if in.CallbackWindowSeconds != nil {
		sess.CallbackWindowSeconds = *in.CallbackWindowSeconds
	}
	sess.ExpiresAt = at.Add(time.Duration(sess.CallbackWindowSeconds) * time.Second)
	if in.ExpiresAt != nil {
		if !in.ExpiresAt.After(at) {
			return Session{}, httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidExpiry, "expires_at must be in the future")
		}
		sess.ExpiresAt = in.ExpiresAt.UTC().Truncate(time.Microsecond)
	}
	if in.AllowedCallerNumber != nil {
		e, err := phonenum.Normalize(*in.AllowedCallerNumber)
		if err != nil {
			return Session{}, httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidPhoneNumber, phonenum.Describe("allowed_caller_number", err))
		}
		sess.AllowedCallerNumber = &e
	}
	if in.WebhookURL != nil && *in.WebhookURL != "" {
		if err := s.cfg.Webhooks.CheckURL("webhook_url", *in.WebhookURL); err != nil {
			return Session{}, err
		}
		sess.WebhookURL = in.WebhookURL
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		leased, err := lease(ctx, tx, teamID, in.PhoneNumberID, sess.ID, in.UseNumberPool, at)
		if err != nil {
			return err
		}
		if leased != "" {
			sess.PhoneNumberID = leased
		}
		return insertSession(ctx, tx, sess)
	})
	if err != nil {
		return Session{}, err
	}
	return sess, nil
}

func (s *Service) checkAgent(ctx context.Context, teamID, field, agentID string) error {
	if s.cfg.Agents == nil {
		return httpapi.NewError(http.StatusNotFound, CodeAgentNotFound, field+" is not an agent of your team")
	}
	_, err := s.cfg.Agents.ResolveAgent(ctx, teamID, agentID)
	if errors.Is(err, numbers.ErrAgentNotFound) {
		return httpapi.NewError(http.StatusNotFound, CodeAgentNotFound, field+" is not an agent of your team")
	}
	return err
}

// GetSession returns a session with its targets and expected callers.
func (s *Service) GetSession(ctx context.Context, teamID, id string) (Session, error) {
	sess, err := sessionByID(ctx, s.db.R, teamID, id)
	if err != nil {
		return Session{}, err
	}
	return s.embed(ctx, sess)
}

func (s *Service) embed(ctx context.Context, sess Session) (Session, error) {
	var err error
	sess.Status = sess.effective(time.Now())
	if sess.CallbackTargets, err = targetsOf(ctx, s.db.R, sess.ID); err != nil {
		return Session{}, err
	}
	sess.ExpectedCallers, err = callersOf(ctx, s.db.R, sess.ID)
	return sess, err
}

// ListSessions lists the team's sessions, newest first, each with its
// targets and expected callers.
func (s *Service) ListSessions(ctx context.Context, teamID string, f SessionFilter, p httpapi.PageParams) ([]Session, int, error) {
	list, total, err := listSessions(ctx, s.db.R, teamID, f, db.Now(), p.Limit(), p.Offset())
	if err != nil {
		return nil, 0, err
	}
	for i := range list {
		if list[i], err = s.embed(ctx, list[i]); err != nil {
			return nil, 0, err
		}
	}
	return list, total, nil
}

// SessionPatch changes a session; nil fields stay as they are.
type SessionPatch struct {
	ExpiresAt             *time.Time
	CallbackWindowSeconds *int
	ContextVariables      map[string]any
	Status                *string
}

// PatchSession applies p. Moving expires_at (or the window, which then
// counts from now) into the future reopens an expired session; released
// and deleted sessions are closed for good. Releasing emits session.released.
func (s *Service) PatchSession(ctx context.Context, teamID, id string, p SessionPatch) (Session, error) {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		sess, err := sessionByID(ctx, tx, teamID, id)
		if err != nil {
			return err
		}
		at := db.Now()
		if sess.Status == StatusReleased || sess.Status == StatusDeleted {
			return httpapi.NewError(http.StatusConflict, CodeSessionClosed, "the session is "+sess.Status+"; open a new one")
		}
		if p.CallbackWindowSeconds != nil {
			sess.CallbackWindowSeconds = *p.CallbackWindowSeconds
			if p.ExpiresAt == nil {
				sess.ExpiresAt = at.Add(time.Duration(sess.CallbackWindowSeconds) * time.Second)
			}
		}
		if p.ExpiresAt != nil {
			if !p.ExpiresAt.After(at) {
				return httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidExpiry, "expires_at must be in the future")
			}
			sess.ExpiresAt = p.ExpiresAt.UTC().Truncate(time.Microsecond)
		}
		if sess.Status == StatusExpired && sess.ExpiresAt.After(at) {
			sess.Status = StatusReady
		}
		if p.ContextVariables != nil {
			sess.ContextVariables = p.ContextVariables
		}
		released := false
		if p.Status != nil && *p.Status != sess.effective(at) {
			if *p.Status != StatusReleased {
				return httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidStatus,
					"status can only be set to released (use DELETE to delete, expires_at to extend)")
			}
			sess.Status, released = StatusReleased, true
		}
		sess.UpdatedAt = at
		if err := updateSession(ctx, tx, sess); err != nil {
			return err
		}
		if released {
			if err := s.endLease(ctx, tx, sess.ID, at); err != nil {
				return err
			}
		}
		if released && sess.WebhookURL != nil {
			_, err = s.cfg.Webhooks.Emit(ctx, tx, webhooks.NewEvent{TeamID: teamID, Type: "session.released", URL: *sess.WebhookURL,
				Data: map[string]any{"inbound_session_id": sess.ID, "status": sess.Status, "external_session_id": sess.ExternalSessionID}})
		}
		return err
	})
	if err != nil {
		return Session{}, err
	}
	return s.GetSession(ctx, teamID, id)
}

// DeleteSession marks a session deleted; deleting it again is a no-op.
func (s *Service) DeleteSession(ctx context.Context, teamID, id string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		sess, err := sessionByID(ctx, tx, teamID, id)
		if err != nil || sess.Status == StatusDeleted {
			return err
		}
		sess.Status, sess.UpdatedAt = StatusDeleted, db.Now()
		if err := updateSession(ctx, tx, sess); err != nil {
			return err
		}
		return s.endLease(ctx, tx, sess.ID, sess.UpdatedAt)
	})
}

// openSession loads a session that may still be changed.
func (s *Service) openSession(ctx context.Context, q db.Querier, teamID, id string) (Session, error) {
	sess, err := sessionByID(ctx, q, teamID, id)
	if err != nil {
		return Session{}, err
	}
	if sess.Status == StatusDeleted {
		return Session{}, httpapi.NewError(http.StatusConflict, CodeSessionClosed, "the session is deleted")
	}
	return sess, nil
}

// normalizeNumbers turns phone numbers into E.164, naming the bad one.
func normalizeNumbers(field string, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, n := range in {
		e, err := phonenum.Normalize(n)
		if err != nil {
			return nil, httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidPhoneNumber, phonenum.Describe(field, err)).
				WithDetails(map[string]any{"field": field, "value": n})
		}
		out = append(out, e)
	}
	return out, nil
}

func trimmed(p *string) *string {
	if p == nil {
		return nil
	}
	t := strings.TrimSpace(*p)
	return &t
}

// expireArgs runs the sweeper: sessions expire on time without any
// request, and pooled numbers move through draining and cooldown. It is a
// durable periodic job, so the transitions happen across restarts.
type expireArgs struct{}

func (expireArgs) Kind() string { return "inbound_expire_sessions" }

type expireWorker struct {
	river.WorkerDefaults[expireArgs]
	s *Service
}

func (w *expireWorker) Work(ctx context.Context, _ *river.Job[expireArgs]) error {
	at := db.Now()
	n, err := expireDue(ctx, w.s.db.W, at)
	if err != nil {
		return err
	}
	if n > 0 {
		w.s.log.Info("inbound sessions expired", "count", n)
	}
	return w.s.advancePool(ctx, at)
}

package calls

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/numbers"
	"github.com/peakvoice/peakvoice/internal/phonenum"
)

// CreateInput is a request to place an outbound call.
type CreateInput struct {
	AgentID          string
	To               string
	From             string // optional: the line bound to the agent otherwise
	BriefText        string
	BriefVariables   map[string]string
	WebhookURL       string
	IdempotencyKey   string            // optional
	Overrides        map[string]string // legacy compatibility fields, recorded only
	OverrideProvider string            // legacy voice_provider
}

// request is the canonical form of a create request; its hash decides
// whether a repeated idempotency key carries the same request.
type request struct {
	AgentID    string            `json:"agent_id"`
	To         string            `json:"to"`
	From       string            `json:"from,omitempty"`
	BriefText  string            `json:"brief_text,omitempty"`
	Vars       map[string]string `json:"vars,omitempty"`
	WebhookURL string            `json:"webhook_url,omitempty"`
	Overrides  map[string]string `json:"overrides,omitempty"`
	Provider   string            `json:"provider,omitempty"`
}

func (r request) hash() string {
	b, _ := json.Marshal(r) // map keys are sorted: the hash is stable
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func invalidNumber(field string, err error) error {
	return httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidPhoneNumber, phonenum.Describe(field, err)).
		WithDetails(map[string]any{"field": field, "reason": phonenum.Reason(err)})
}

// normalize checks what needs no database.
func (s *Service) normalize(in CreateInput) (request, error) {
	to, err := phonenum.E164(in.To)
	if err != nil {
		return request{}, invalidNumber("phone_number_to", err)
	}
	r := request{AgentID: in.AgentID, To: to, BriefText: in.BriefText, Vars: in.BriefVariables,
		WebhookURL: in.WebhookURL, Overrides: in.Overrides, Provider: in.OverrideProvider}
	if in.From != "" {
		if r.From, err = phonenum.E164(in.From); err != nil {
			return request{}, invalidNumber("phone_number_from", err)
		}
	}
	if in.WebhookURL != "" && s.cfg.Webhooks != nil {
		if err := s.cfg.Webhooks.CheckURL("webhook_url", in.WebhookURL); err != nil {
			return request{}, err
		}
	}
	return r, nil
}

// Create records an outbound call and dials it exactly once per (team,
// idempotency key). It reports whether the answer replays an earlier
// request with the same key.
func (s *Service) Create(ctx context.Context, teamID string, in CreateInput) (Call, bool, error) {
	r, err := s.normalize(in)
	if err != nil {
		return Call{}, false, err
	}
	hash := r.hash()
	if in.IdempotencyKey != "" {
		if c, err := callByKey(ctx, s.db.R, teamID, in.IdempotencyKey); err == nil {
			return replay(c, hash)
		} else if !errors.Is(err, errNotFound) {
			return Call{}, false, err
		}
	}
	c, err := s.prepare(ctx, teamID, r)
	if err != nil {
		return Call{}, false, err
	}
	if err := s.admitRate(ctx, teamID); err != nil {
		return Call{}, false, err
	}
	c.requestHash = hash
	if in.IdempotencyKey != "" {
		c.IdempotencyKey = &in.IdempotencyKey
	}
	err = s.tx(ctx, func(tx *sql.Tx, touched func(string)) error {
		if err := s.lockTeamCalls(ctx, tx, teamID); err != nil {
			return err
		}
		if in.IdempotencyKey != "" {
			// A twin request may have committed while this one waited for
			// the lock: answer with its call, not with the cap.
			if _, err := callByKey(ctx, tx, teamID, in.IdempotencyKey); err == nil {
				return errKeyTaken
			} else if !errors.Is(err, errNotFound) {
				return err
			}
		}
		if err := s.admitLive(ctx, tx, teamID); err != nil {
			return err
		}
		if err := insertCall(ctx, tx, c); err != nil {
			return err
		}
		touched(c.ID)
		if err := appendEvent(ctx, tx, &c, EventStatus, statusEvent(c)); err != nil {
			return err
		}
		// The backstop: should this process die before or during the dial,
		// the job finds the call and settles it.
		return s.enqueue(ctx, tx, dispatchArgs{CallID: c.ID}, dispatchOpts(s.cfg.DialTimeout))
	})
	if (errors.Is(err, errKeyTaken) || db.IsUniqueViolation(err)) && in.IdempotencyKey != "" {
		if prior, err := callByKey(ctx, s.db.W, teamID, in.IdempotencyKey); err == nil {
			return replay(prior, hash)
		}
	}
	if err != nil {
		return Call{}, false, err
	}
	c, err = s.dispatch(ctx, c.ID)
	if err != nil {
		return Call{}, false, err
	}
	if replyFor(c) >= 400 {
		return c, false, replyError(c)
	}
	return c, false, nil
}

// prepare runs the checks that need the agent and the numbers, and builds
// the call to record.
func (s *Service) prepare(ctx context.Context, teamID string, r request) (Call, error) {
	agents, ok := s.agentsDomain()
	if !ok {
		return Call{}, httpapi.NewError(http.StatusNotFound, CodeAgentNotFound, "no such agent in your team")
	}
	agent, err := agents.CallAgent(ctx, teamID, r.AgentID)
	if errors.Is(err, ErrAgentNotFound) {
		return Call{}, httpapi.NewError(http.StatusNotFound, CodeAgentNotFound, "no such agent in your team")
	}
	if err != nil {
		return Call{}, err
	}
	if agent.SyncStatus != SyncStatusSynced {
		return Call{}, httpapi.NewError(http.StatusConflict, CodeAgentNotSynced,
			fmt.Sprintf("the agent's voice assistant is %q, not synced; POST /api/v1/agents/%s/reconcile, then retry", agent.SyncStatus, agent.ID))
	}
	if agent.ProviderAgentID == "" {
		return Call{}, httpapi.NewError(http.StatusConflict, CodeMissingProviderID,
			fmt.Sprintf("the agent has no voice assistant yet; POST /api/v1/agents/%s/reconcile, then retry", agent.ID))
	}
	if r.Provider != "" && r.Provider != agent.Provider {
		return Call{}, httpapi.NewError(http.StatusConflict, CodeProviderMismatch,
			fmt.Sprintf("voice_provider %q does not match the agent's runtime %q; omit voice_provider", r.Provider, agent.Provider))
	}
	line, err := s.line(ctx, teamID, agent, r.From)
	if err != nil {
		return Call{}, err
	}
	vars, err := agents.NormalizeBrief(ctx, teamID, agent.ID, r.BriefText, r.Vars)
	if err != nil {
		return Call{}, err
	}
	now := db.Now()
	pnID := line.ID
	c := Call{ID: uuid.Must(uuid.NewV7()).String(), AgentID: agent.ID, Direction: Outbound, Status: StatusQueued,
		PhoneNumberFrom: line.PhoneNumber, PhoneNumberTo: r.To, PhoneNumberID: &pnID,
		CallBriefVariables: r.Vars, DynamicVariables: vars, Overrides: r.Overrides,
		Provider: line.Provider, ProviderAgentID: agent.ProviderAgentID, ResultStatus: ResultNone,
		CreatedAt: now, UpdatedAt: now, teamID: teamID, objectives: agent.Objectives, dispatch: dispatchPending}
	if c.CallBriefVariables == nil {
		c.CallBriefVariables = map[string]string{}
	}
	if c.DynamicVariables == nil {
		c.DynamicVariables = map[string]string{}
	}
	if c.Overrides == nil {
		c.Overrides = map[string]string{}
	}
	if r.BriefText != "" {
		c.CallBriefText = &r.BriefText
	}
	if r.WebhookURL != "" {
		c.WebhookURL = &r.WebhookURL
	}
	return c, nil
}

// line resolves the caller line: the explicit number, which must be the
// team's, active, voice-capable and not bound to another agent; or else
// the first usable number bound to the agent.
func (s *Service) line(ctx context.Context, teamID string, agent CallAgent, from string) (numbers.Number, error) {
	if from != "" {
		n, err := s.cfg.Numbers.ByE164(ctx, teamID, from)
		if numbers.IsNotFound(err) {
			return n, httpapi.NewError(http.StatusNotFound, CodePhoneNotFound, "phone_number_from is not a number of your team")
		}
		if err != nil {
			return n, err
		}
		if err := suits(n, agent); err != nil {
			return n, err
		}
		return n, nil
	}
	bound, err := s.cfg.Numbers.BoundTo(ctx, teamID, agent.ID)
	if err != nil {
		return numbers.Number{}, err
	}
	if len(bound) == 0 {
		return numbers.Number{}, httpapi.NewError(http.StatusBadRequest, CodeNoPhoneNumber,
			"the agent has no phone number to call from; bind one (PATCH /api/v1/phone-numbers/{id} with voice_agent_id) or give phone_number_from")
	}
	var firstErr error
	for _, n := range bound {
		err := suits(n, agent)
		if err == nil {
			return n, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return numbers.Number{}, firstErr
}

// suits checks that a line can carry the agent's calls.
func suits(n numbers.Number, agent CallAgent) error {
	details := map[string]any{"phone_number": n.PhoneNumber, "phone_number_id": n.ID}
	switch {
	case n.Status != numbers.StatusActive:
		return httpapi.NewError(http.StatusConflict, CodeIncompatiblePhone,
			fmt.Sprintf("%s is %s; activate it or use another number", n.PhoneNumber, n.Status)).WithDetails(details)
	case !n.Capabilities.Voice:
		return httpapi.NewError(http.StatusConflict, CodeIncompatiblePhone,
			fmt.Sprintf("%s cannot carry voice calls", n.PhoneNumber)).WithDetails(details)
	case n.VoiceAgentID != nil && *n.VoiceAgentID != agent.ID:
		return httpapi.NewError(http.StatusConflict, CodeIncompatiblePhone,
			fmt.Sprintf("%s is bound to another agent; bind it to this agent or use another number", n.PhoneNumber)).WithDetails(details)
	case n.Provider != agent.Provider:
		return httpapi.NewError(http.StatusConflict, CodeProviderMismatch,
			fmt.Sprintf("%s is a %s line but the agent runs on %s", n.PhoneNumber, n.Provider, agent.Provider)).WithDetails(details)
	}
	return nil
}

// errKeyTaken ends a create transaction that found its idempotency key
// already used.
var errKeyTaken = errors.New("idempotency key taken")

// admitRate spends one of the team's call-creation tokens. On PostgreSQL
// the bucket is a row shared by every replica; on SQLite (one process) it
// is kept in memory.
func (s *Service) admitRate(ctx context.Context, teamID string) error {
	l := s.currentLimits()
	var wait time.Duration
	ok := true
	if s.db.Dialect == db.Postgres {
		var err error
		if wait, ok, err = s.db.TakeTokens(ctx, []string{"calls:" + teamID}, l.CallsPerMinute/60, l.Burst); err != nil {
			return err
		}
	} else {
		wait, ok = s.rate.take(teamID, l.CallsPerMinute, l.Burst)
	}
	if !ok {
		secs := int(wait.Seconds()) + 1
		return httpapi.NewError(http.StatusTooManyRequests, CodeRateLimited,
			fmt.Sprintf("your team is creating calls faster than %g a minute; retry in %d s", l.CallsPerMinute, secs)).
			WithHeader("Retry-After", strconv.Itoa(secs))
	}
	return nil
}

// lockTeamCalls serializes, across every replica, the transactions that
// create calls for a team, until tx ends: the live-call count and the
// insert that follows it cannot interleave with another creation's. On
// SQLite every write transaction already runs alone.
func (s *Service) lockTeamCalls(ctx context.Context, tx *sql.Tx, teamID string) error {
	if s.db.Dialect != db.Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('peakvoice.calls.create'), hashtext($1))`, teamID)
	return err
}

// admitLive refuses a call when the team already has as many calls under
// way as it may. It runs in the creating transaction, after lockTeamCalls,
// so the count includes every call committed before it.
func (s *Service) admitLive(ctx context.Context, tx *sql.Tx, teamID string) error {
	l := s.currentLimits()
	live, err := countLive(ctx, tx, teamID)
	if err != nil {
		return err
	}
	if live >= l.MaxLiveCalls {
		return httpapi.NewError(http.StatusTooManyRequests, CodeTooManyLiveCalls,
			fmt.Sprintf("your team already has %d calls under way (limit %d); retry when one ends", live, l.MaxLiveCalls)).
			WithHeader("Retry-After", "5").WithDetails(map[string]any{"live_calls": live, "limit": l.MaxLiveCalls})
	}
	return nil
}

// replay answers a request whose key was used before.
func replay(c Call, hash string) (Call, bool, error) {
	if c.requestHash != hash {
		return Call{}, false, httpapi.NewError(http.StatusUnprocessableEntity, CodeIdempotencyMismatch,
			"this Idempotency-Key was used with a different request; use a new key for a new call").
			WithDetails(map[string]any{"call_id": c.ID})
	}
	if c.dispatch == dispatchPending || c.dispatch == dispatchInFlight {
		return Call{}, false, httpapi.NewError(http.StatusConflict, CodeInProgress,
			"a request with this Idempotency-Key is still being placed; retry shortly").
			WithHeader("Retry-After", "1").WithDetails(map[string]any{"call_id": c.ID})
	}
	if replyFor(c) >= 400 {
		return c, true, replyError(c)
	}
	return c, true, nil
}

// replyError is the error a failed dial answered with (and answers again).
func replyError(c Call) *httpapi.Error {
	detail := ""
	if c.ErrorDetail != nil {
		detail = ": " + *c.ErrorDetail
	}
	code := CodeTelephonyProvider
	if c.ErrorCode != nil {
		code = *c.ErrorCode
	}
	var msg string
	switch code {
	case CodeVoiceProvider:
		msg = "the voice assistant runtime could not take the call" + detail + "; it was not placed"
	case CodeOutcomeUnknown:
		code, msg = CodeTelephonyProvider, "the server stopped while handing this call to the carrier; it was not dialed again and may or may not have rung"
	default:
		msg = "the carrier could not place the call" + detail + "; it was not placed. Retry with a new Idempotency-Key"
	}
	return httpapi.NewError(replyFor(c), code, msg).WithDetails(map[string]any{"call_id": c.ID, "status": c.Status})
}

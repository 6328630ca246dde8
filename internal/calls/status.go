package calls

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/peakvoice/peakvoice/internal/carriererr"
	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/httpapi"
)

// StatusUpdate is the carrier's news about a call's progress.
type StatusUpdate struct {
	CallControlID string
	// Status is one of this package's statuses (the bridge maps the
	// carrier's words).
	Status string
	// Sequence orders one call's updates; with CallControlID and Status it
	// identifies a delivery, so duplicates apply once.
	Sequence     int
	At           time.Time
	AnsweredAt   time.Time
	Duration     time.Duration
	HasDuration  bool
	SessionID    string
	HangupCause  string
	HangupSource string
	AnsweredBy   string
	ErrorCode    string
	ErrorMessage string
}

// ApplyStatus records a call-progress event once. A status never moves a
// call backwards and a terminal status is final, so duplicated and
// reordered events are harmless. It returns an error for which
// IsRetryLater holds when the call's dial is still being recorded.
func (s *Service) ApplyStatus(ctx context.Context, u StatusUpdate) error {
	if _, ok := statusRank[u.Status]; !ok {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx, touched func(string)) error {
		c, err := lockCall(ctx, tx, "provider_call_id = $1", u.CallControlID)
		if errors.Is(err, errNotFound) {
			return errRetryLater
		}
		if err != nil {
			return err
		}
		fresh, err := claimEvent(ctx, tx, "call-status:"+u.CallControlID+":"+strconv.Itoa(u.Sequence)+":"+u.Status, "call.status")
		if err != nil || !fresh {
			return err
		}
		if statusRank[u.Status] <= statusRank[c.Status] {
			return nil
		}
		at := u.At.UTC().Truncate(time.Microsecond)
		if at.IsZero() {
			at = db.Now()
		}
		old := c.Status
		c.Status, c.UpdatedAt = u.Status, db.Now()
		set := func(p **time.Time, t time.Time) {
			if *p == nil {
				t := t
				*p = &t
			}
		}
		switch u.Status {
		case StatusInitiated:
			set(&c.InitiatedAt, at)
		case StatusRinging:
			set(&c.RingingAt, at)
		case StatusInProgress:
			set(&c.AnsweredAt, at)
		}
		if Terminal(u.Status) {
			set(&c.EndedAt, at)
			if !u.AnsweredAt.IsZero() {
				set(&c.AnsweredAt, u.AnsweredAt.UTC().Truncate(time.Microsecond))
			}
			c.HangupCause, c.HangupSource = optional(u.HangupCause), optional(u.HangupSource)
			if u.SessionID != "" {
				c.CallSessionID = &u.SessionID
			}
			if u.Status == StatusFailed && c.ErrorCode == nil {
				code := u.ErrorCode
				if code == "" {
					code = CodeTelephonyProvider
				}
				c.ErrorCode, c.ErrorDetail = &code, optional(u.ErrorMessage)
			}
			if c.AnsweredAt != nil {
				c.ResultStatus = ResultPending
			}
		}
		if u.AnsweredBy != "" {
			c.AnsweredBy = &u.AnsweredBy
		}
		if u.HasDuration {
			d := int(u.Duration / time.Second)
			c.DurationSeconds = &d
		}
		if err := saveCall(ctx, tx, c); err != nil {
			return err
		}
		touched(c.ID)
		if err := s.transition(ctx, tx, old, &c); err != nil {
			return err
		}
		if c.ResultStatus == ResultPending {
			return s.enqueue(ctx, tx, resultsArgs{CallID: c.ID}, resultsOpts())
		}
		return nil
	})
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CallerMatchOutbound is the caller_match_status of outbound calls: empty,
// as the spec lists it (the inbound values are matched, session_only,
// unmatched and caller_not_allowed).
const CallerMatchOutbound = ""

// CallVariables finds a call by the carrier's id with one read and
// returns what other domains need of it and, for an outbound call, the
// variables its assistant receives (nil for an inbound call, whose
// caller the inbound domain identifies). ok is false for unknown calls.
func (s *Service) CallVariables(ctx context.Context, callControlID string) (CallRef, map[string]string, bool, error) {
	if callControlID == "" {
		return CallRef{}, nil, false, nil
	}
	ref, dyn, ok, err := s.refByProviderID(ctx, callControlID)
	if err != nil || !ok {
		return CallRef{}, nil, false, err
	}
	if ref.Direction == Inbound {
		return ref, nil, true, nil
	}
	vars := map[string]string{}
	_ = json.Unmarshal([]byte(dyn), &vars)
	vars["caller_match_status"] = CallerMatchOutbound
	vars["peak_voice_call_id"] = ref.ID
	return ref, vars, true, nil
}

// refByProviderID reads, by the carrier's id, only what CallRef and the
// dynamic variables need: the full row decodes four JSON documents and a
// dozen nullable columns for nothing. dyn is the dynamic_variables JSON.
func (s *Service) refByProviderID(ctx context.Context, providerCallID string) (ref CallRef, dyn string, ok bool, err error) {
	var sess sql.NullString
	err = s.rq.QueryRowContext(ctx, `SELECT id, team_id, agent_id, direction, from_number, to_number, inbound_session_id,
		dynamic_variables FROM calls WHERE provider_call_id = $1`, providerCallID).Scan(
		&ref.ID, &ref.TeamID, &ref.AgentID, &ref.Direction, &ref.From, &ref.To, &sess, &dyn)
	if errors.Is(err, sql.ErrNoRows) {
		return CallRef{}, "", false, nil
	}
	if err != nil {
		return CallRef{}, "", false, err
	}
	ref.SessionID = sess.String
	return ref, dyn, true, nil
}

// Hangup ends a live call. A call not dialed yet is canceled without
// reaching the carrier; one that has ended answers 409 call_not_active.
func (s *Service) Hangup(ctx context.Context, teamID, id string) (Call, error) {
	c, err := callByID(ctx, s.db.R, teamID, id)
	if err != nil {
		return Call{}, err
	}
	notActive := func() error {
		return httpapi.NewError(http.StatusConflict, CodeCallNotActive,
			fmt.Sprintf("the call is %s; only a live call can be hung up", c.Status)).WithDetails(map[string]any{"call_id": c.ID, "status": c.Status})
	}
	if Terminal(c.Status) {
		return Call{}, notActive()
	}
	if c.dispatch == dispatchPending {
		var canceled bool
		err := s.tx(ctx, func(tx *sql.Tx, touched func(string)) error {
			cur, err := lockCall(ctx, tx, "id = $1", id)
			if err != nil || cur.dispatch != dispatchPending {
				return err
			}
			now := db.Now()
			old := cur.Status
			cur.dispatch, cur.Status, cur.EndedAt, cur.UpdatedAt = dispatchDone, StatusCanceled, &now, now
			if err := saveCall(ctx, tx, cur); err != nil {
				return err
			}
			touched(id)
			canceled, c = true, cur
			return s.transition(ctx, tx, old, &c)
		})
		if err != nil || canceled {
			return c, err
		}
		if c, err = callByID(ctx, s.db.W, teamID, id); err != nil {
			return Call{}, err
		}
	}
	if c.ProviderCallID == nil {
		return Call{}, httpapi.NewError(http.StatusConflict, CodeInProgress,
			"the call is still being handed to the carrier; retry shortly").WithHeader("Retry-After", "1")
	}
	if err := s.cfg.Carrier.Hangup(ctx, *c.ProviderCallID); err != nil {
		if errors.Is(err, carriererr.ErrRejected) || errors.Is(err, carriererr.ErrNotFound) {
			return Call{}, notActive() // it ended on its own meanwhile
		}
		s.log.WarnContext(ctx, "hangup failed at the carrier", "call_id", c.ID, "err", err)
		return Call{}, httpapi.NewError(http.StatusBadGateway, CodeTelephonyProvider, "the carrier could not end the call; retry")
	}
	return c, nil
}

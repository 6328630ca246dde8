package inbound

import (
	"context"
	"database/sql"
	"time"
)

// InboundCall is what the gate records for a call it lets through.
type InboundCall struct {
	TeamID, AgentID, ProviderAgentID string
	From, To, PhoneNumberID          string
	ProviderCallID                   string
	SessionID                        string
	WebhookURL                       string
}

// CallRef is a recorded call, as the inbound domain needs it.
type CallRef struct {
	ID, TeamID, AgentID, Direction, From string
	SessionID                            string
}

// CallLog records inbound calls; the calls domain implements it.
type CallLog interface {
	RecordInbound(ctx context.Context, in InboundCall) (callID string, err error)
}

// Assistants gives the carrier assistant that runs an agent.
type Assistants interface {
	AssistantID(ctx context.Context, teamID, agentID string) (string, error)
}

// SetCalls plugs in the call log and the assistant lookup once they exist.
func (s *Service) SetCalls(calls CallLog, assistants Assistants) {
	s.cfg.Calls, s.cfg.Assistants = calls, assistants
}

// GateAnswer is the gate's instruction to the carrier.
type GateAnswer struct {
	Reject      bool
	Reason      string
	AssistantID string // the assistant to connect, when not rejecting
	CallID      string
}

// Gate decides an inbound call when the carrier asks: connect it to the
// right agent's assistant, or reject it. A call to a team's number is
// recorded as a call (direction inbound) whenever an agent takes it.
// Late calls to a pooled number emit callback.late; a caller the session
// does not admit is rejected with callback.unmatched (caller_not_allowed).
func (s *Service) Gate(ctx context.Context, callSID, from, to string) (GateAnswer, error) {
	d, err := s.Route(ctx, to, from, time.Now())
	if err != nil {
		return GateAnswer{}, err
	}
	if !d.Known {
		return GateAnswer{Reject: true, Reason: d.RejectReason}, nil
	}
	if d.Late() && d.LateSessionID != "" {
		if err := s.emitEvents(ctx, d.TeamID, d.LateSessionID, event{"callback.late",
			map[string]any{"caller_number": from, "pool_status": d.PoolStatus, "call_sid": callSID}}); err != nil {
			return GateAnswer{}, err
		}
	}
	if d.Reject {
		if d.MatchStatus == CallerNotAllowed {
			err := s.emitEvents(ctx, d.TeamID, d.SessionID, event{"callback.unmatched",
				map[string]any{"match_status": CallerNotAllowed, "caller_number": from, "call_sid": callSID, "call_id": nil}})
			if err != nil {
				return GateAnswer{}, err
			}
		}
		return GateAnswer{Reject: true, Reason: d.RejectReason}, nil
	}
	asst, err := s.cfg.Assistants.AssistantID(ctx, d.TeamID, d.AgentID)
	if err != nil || asst == "" {
		s.log.WarnContext(ctx, "inbound call for an agent without an assistant", "agent_id", d.AgentID, "err", err)
		return GateAnswer{Reject: true, Reason: "the agent is not available"}, nil
	}
	rec := InboundCall{TeamID: d.TeamID, AgentID: d.AgentID, ProviderAgentID: asst, From: from, To: to,
		PhoneNumberID: d.PhoneNumberID, ProviderCallID: callSID, SessionID: d.SessionID}
	if d.SessionID != "" {
		if sess, err := sessionByID(ctx, s.db.R, d.TeamID, d.SessionID); err == nil && sess.WebhookURL != nil {
			rec.WebhookURL = *sess.WebhookURL
		}
	}
	callID, err := s.cfg.Calls.RecordInbound(ctx, rec)
	if err != nil {
		return GateAnswer{}, err
	}
	return GateAnswer{AssistantID: asst, CallID: callID}, nil
}

// CallVariables answers the assistant's start-of-conversation request
// for an inbound call the calls domain has already found by the carrier's
// id: it identifies the caller, emits callback.received and
// callback.matched or callback.unmatched (and handoff.suggested when the
// matched target suggests one) to a session with a webhook_url, and
// returns the variables. found is false for calls that are not inbound.
func (s *Service) CallVariables(ctx context.Context, ref CallRef) (map[string]string, bool, error) {
	if ref.Direction != "inbound" {
		return nil, false, nil
	}
	if ref.SessionID == "" {
		return map[string]string{"caller_match_status": CallerUnmatched, "peak_voice_call_id": ref.ID}, true, nil
	}
	id, sess, err := s.identify(ctx, ref.TeamID, ref.SessionID, ref.From)
	if err != nil {
		return nil, false, err
	}
	id.Variables["peak_voice_call_id"] = ref.ID
	if sess.WebhookURL == nil {
		// Nothing to emit: the session was just read, so skip emitEvents'
		// own read of it.
		return id.Variables, true, nil
	}
	events := []event{{"callback.received", map[string]any{"call_id": ref.ID, "match_status": id.MatchStatus}}}
	if id.MatchStatus == CallerMatched {
		events = append(events, event{"callback.matched", id.Target.eventData(map[string]any{"call_id": ref.ID,
			"match_status": CallerMatched})})
		if h := id.Target.SuggestedHandoffTargetAgentID; h != nil {
			events = append(events, event{"handoff.suggested", id.Target.eventData(map[string]any{"call_id": ref.ID,
				"suggested_handoff_target_agent_id": *h})})
		}
	} else {
		events = append(events, event{"callback.unmatched", map[string]any{"call_id": ref.ID, "match_status": id.MatchStatus}})
	}
	if err := s.emitEventsTx(ctx, ref.TeamID, ref.SessionID, events...); err != nil {
		return nil, false, err
	}
	return id.Variables, true, nil
}

type event struct {
	typ  string
	data map[string]any
}

func (s *Service) emitEvents(ctx context.Context, teamID, sessionID string, evs ...event) error {
	// Most sessions have no webhook_url: find out with a read, so the hot
	// dynamic-variables path does not queue for the single SQLite writer.
	sess, err := sessionByID(ctx, s.rq, teamID, sessionID)
	if err != nil || sess.WebhookURL == nil {
		return err
	}
	return s.emitEventsTx(ctx, teamID, sessionID, evs...)
}

// emitEventsTx emits evs in one transaction to a session known to have a
// webhook_url. The session is read again inside the transaction, once for
// all the events, so a webhook_url removed meanwhile is respected.
func (s *Service) emitEventsTx(ctx context.Context, teamID, sessionID string, evs ...event) error {
	if s.cfg.Webhooks == nil {
		return nil
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		sess, err := sessionByID(ctx, tx, teamID, sessionID)
		if err != nil || sess.WebhookURL == nil {
			return err
		}
		for _, e := range evs {
			if err := s.emitTo(ctx, tx, sess, e.typ, e.data); err != nil {
				return err
			}
		}
		return nil
	})
}

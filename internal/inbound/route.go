package inbound

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/peakvoice/peakvoice/internal/webhooks"
)

// Caller match statuses given to the agent as caller_match_status.
const (
	// CallerMatched: a callback target of the session matched the caller.
	CallerMatched = "matched"
	// CallerSessionOnly: the call reached a session that has no callback
	// targets; the agent gets the session's context and nothing personal.
	CallerSessionOnly = "session_only"
	// CallerUnmatched: the session has targets but none matched the caller
	// (or the call reached a number's agent without any session).
	CallerUnmatched = "unmatched"
	// CallerNotAllowed: the session admits one caller number and this
	// caller is not it (nor an expected caller); the gate rejects the call.
	CallerNotAllowed = "caller_not_allowed"
)

// Decision is what the gate does with an inbound call.
type Decision struct {
	Known         bool // the number belongs to a team
	TeamID        string
	PhoneNumberID string
	SessionID     string // empty when no session routes the call
	AgentID       string // empty when nobody answers
	Reject        bool
	RejectReason  string
	MatchStatus   string // set when the gate already knows (caller_not_allowed)
	PoolStatus    string // draining or cooldown when the call is late
	LateSessionID string // the ended session a late call belongs to
}

// Late reports whether the call reached a pooled number after its session.
func (d Decision) Late() bool { return d.PoolStatus == PoolDraining || d.PoolStatus == PoolCooldown }

// Route decides who answers a call to one of the account's numbers:
// the newest ready session on it (checking allowed_caller_number and
// expected callers), else — during a pooled number's draining — the ended
// session's agent, else the agent bound to the number, else nobody.
func (s *Service) Route(ctx context.Context, to, from string, at time.Time) (Decision, error) {
	num, found, err := s.cfg.Numbers.OwnerOf(ctx, to)
	if err != nil || !found {
		return Decision{Reject: true, RejectReason: "number not in service"}, err
	}
	d := Decision{Known: true, TeamID: num.TeamID(), PhoneNumberID: num.ID}
	sess, err := scanSession(s.db.R.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM inbound_sessions
		WHERE phone_number_id = $1 AND team_id = $2 AND status = 'ready' AND expires_at > $3
		ORDER BY created_at DESC, id DESC LIMIT 1`, num.ID, d.TeamID, at))
	switch {
	case err == nil:
		d.SessionID, d.AgentID = sess.ID, sess.AgentID
		if sess.AllowedCallerNumber != nil && *sess.AllowedCallerNumber != from {
			ok, err := s.expectedCaller(ctx, sess.ID, from)
			if err != nil {
				return d, err
			}
			if !ok {
				d.Reject, d.RejectReason, d.MatchStatus = true, "caller not allowed", CallerNotAllowed
			}
		}
		return d, nil
	case !errors.Is(err, errNotFound):
		return d, err
	}
	// No live session: a pooled number may still be draining one.
	var status string
	var sid sql.NullString
	err = s.db.R.QueryRowContext(ctx, `SELECT status, session_id FROM number_pool WHERE phone_number_id = $1`, num.ID).Scan(&status, &sid)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return d, err
	}
	if status == PoolDraining || status == PoolCooldown || (status == PoolLeased && sid.Valid) {
		if status == PoolLeased {
			status = PoolDraining // leased to a session that just expired: treat as draining
		}
		d.PoolStatus = status
		if sid.Valid {
			d.LateSessionID = sid.String
		}
		if status == PoolDraining && sid.Valid {
			if ended, err := sessionByID(ctx, s.db.R, d.TeamID, sid.String); err == nil {
				d.SessionID, d.AgentID = ended.ID, ended.AgentID
				return d, nil
			}
		}
	}
	if num.VoiceAgentID != nil {
		d.AgentID = *num.VoiceAgentID
		return d, nil
	}
	d.Reject, d.RejectReason = true, "no one is taking calls on this number"
	return d, nil
}

func (s *Service) expectedCaller(ctx context.Context, sessionID, from string) (bool, error) {
	var n int
	err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM expected_callers WHERE session_id = $1 AND phone_number = $2`,
		sessionID, from).Scan(&n)
	return n > 0, err
}

// Identification is what the agent learns about an inbound caller.
type Identification struct {
	MatchStatus string
	Target      *Target
	Tied        []Target
	// Variables are the dynamic variables for the agent: the session's
	// context always, the matched target's context and identity only when
	// it matched, and caller_match_status.
	Variables map[string]string
}

// Identify recognises a caller of a session by the number they call from
// (the name comes later, through the lookup tool) and builds the agent's
// dynamic variables. Caller-specific facts never reach an unmatched caller.
func (s *Service) Identify(ctx context.Context, teamID, sessionID, from string) (Identification, error) {
	id, _, err := s.identify(ctx, teamID, sessionID, from)
	return id, err
}

// identify is Identify, also returning the session it read.
func (s *Service) identify(ctx context.Context, teamID, sessionID, from string) (Identification, Session, error) {
	sess, err := sessionByID(ctx, s.rq, teamID, sessionID)
	if err != nil {
		return Identification{}, Session{}, err
	}
	targets, err := candidatesOf(ctx, s.rq, sessionID)
	if err != nil {
		return Identification{}, Session{}, err
	}
	id := Identification{Variables: map[string]string{}}
	for k, v := range sess.ContextVariables {
		id.Variables[k] = stringify(v)
	}
	id.Variables["inbound_session_id"] = sess.ID
	callbackTargets := 0
	for _, t := range targets {
		if !t.expectedCaller {
			callbackTargets++
		}
	}
	switch m := MatchCaller(targets, "", from); {
	case m.Status != MatchMatched && callbackTargets == 0:
		id.MatchStatus = CallerSessionOnly
	case m.Status == MatchMatched:
		id.MatchStatus, id.Target = CallerMatched, m.Target
		for k, v := range TargetVariables(*m.Target) {
			id.Variables[k] = v
		}
	case m.Status == MatchAmbiguous:
		// Two targets share the caller's number at the same priority:
		// saying nothing personal is safer than guessing.
		id.MatchStatus, id.Tied = CallerUnmatched, m.Tied
	default:
		id.MatchStatus = CallerUnmatched
	}
	id.Variables["caller_match_status"] = id.MatchStatus
	return id, sess, nil
}

// TargetVariables are the variables a matched target contributes: its
// context_variables and identity fields.
func TargetVariables(t Target) map[string]string {
	out := map[string]string{}
	for k, v := range t.ContextVariables {
		out[k] = stringify(v)
	}
	if t.expectedCaller {
		out["expected_caller_id"] = t.ID
	} else {
		out["callback_target_id"] = t.ID
	}
	for k, v := range map[string]*string{"contact_name": t.ContactName, "organization_name": t.OrganizationName,
		"callback_label": t.Label, "suggested_handoff_target_agent_id": t.SuggestedHandoffTargetAgentID} {
		if v != nil && *v != "" {
			out[k] = *v
		}
	}
	return out
}

func stringify(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return jsonText(v)
}

// EmitSessionEvent sends an event to a session's webhook_url (if it has
// one) inside the caller's transaction.
func (s *Service) EmitSessionEvent(ctx context.Context, tx *sql.Tx, teamID, sessionID, typ string, data map[string]any) error {
	sess, err := sessionByID(ctx, tx, teamID, sessionID)
	if err != nil {
		return err
	}
	return s.emitTo(ctx, tx, sess, typ, data)
}

// emitTo sends an event to sess's webhook_url, if it has one, in tx.
func (s *Service) emitTo(ctx context.Context, tx *sql.Tx, sess Session, typ string, data map[string]any) error {
	if sess.WebhookURL == nil || s.cfg.Webhooks == nil {
		return nil
	}
	data["inbound_session_id"] = sess.ID
	_, err := s.cfg.Webhooks.Emit(ctx, tx, webhooks.NewEvent{TeamID: sess.teamID, Type: typ, URL: *sess.WebhookURL, Data: data})
	return err
}

// Tx runs fn in a transaction of the inbound store (for callers that emit
// session events together with their own changes).
func (s *Service) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error { return s.db.Tx(ctx, fn) }

package calls

import (
	"context"
	"database/sql"
	"errors"

	"github.com/google/uuid"

	"github.com/peakvoice/peakvoice/internal/db"
)

// InboundCall describes a call the carrier is connecting to one of the
// team's agents.
type InboundCall struct {
	TeamID, AgentID, ProviderAgentID string
	From, To, PhoneNumberID          string
	ProviderCallID                   string // CallSid / call_control_id
	SessionID                        string // the callback session that routed it, if any
	WebhookURL                       string // receives the call's lifecycle events, if any
}

// RecordInbound stores an inbound call as it starts ringing, so it follows
// the same state machine, stream, webhooks and results as an outbound one.
// The carrier may ask twice about one call: the second time returns the
// call already recorded.
func (s *Service) RecordInbound(ctx context.Context, in InboundCall) (Call, error) {
	if c, err := callByProviderID(ctx, s.db.R, in.ProviderCallID); err == nil {
		return c, nil
	} else if !errors.Is(err, errNotFound) {
		return Call{}, err
	}
	at := db.Now()
	pcid, pn := in.ProviderCallID, in.PhoneNumberID
	c := Call{ID: uuid.Must(uuid.NewV7()).String(), AgentID: in.AgentID, Direction: Inbound, Status: StatusRinging,
		PhoneNumberFrom: in.From, PhoneNumberTo: in.To, PhoneNumberID: &pn, Provider: "telnyx",
		ProviderAgentID: in.ProviderAgentID, ProviderCallID: &pcid, CallBriefVariables: map[string]string{},
		DynamicVariables: map[string]string{}, Overrides: map[string]string{}, ResultStatus: ResultNone,
		CreatedAt: at, UpdatedAt: at, RingingAt: &at, teamID: in.TeamID, dispatch: dispatchDone}
	if in.SessionID != "" {
		c.InboundSessionID = &in.SessionID
	}
	if in.WebhookURL != "" {
		c.WebhookURL = &in.WebhookURL
	}
	if agent, ok := s.agentsDomain(); ok {
		if a, err := agent.CallAgent(ctx, in.TeamID, in.AgentID); err == nil {
			c.objectives = a.Objectives
		}
	}
	err := s.tx(ctx, func(tx *sql.Tx, touched func(string)) error {
		if err := insertCall(ctx, tx, c); err != nil {
			return err
		}
		touched(c.ID)
		return appendEvent(ctx, tx, &c, "call.status", statusEvent(c))
	})
	if db.IsUniqueViolation(err) {
		return callByProviderID(ctx, s.db.W, in.ProviderCallID)
	}
	return c, err
}

// CallRef is what other domains need to know about a call.
type CallRef struct {
	ID, TeamID, AgentID, Direction, From, To string
	SessionID                                string
}

// ByProviderID finds a call by the carrier's id.
func (s *Service) ByProviderID(ctx context.Context, providerCallID string) (CallRef, bool, error) {
	ref, _, ok, err := s.refByProviderID(ctx, providerCallID)
	return ref, ok, err
}

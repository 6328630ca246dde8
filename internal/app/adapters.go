package app

import (
	"context"
	"errors"

	"github.com/peakvoice/peakvoice/internal/agents"
	"github.com/peakvoice/peakvoice/internal/calls"
	"github.com/peakvoice/peakvoice/internal/inbound"
	"github.com/peakvoice/peakvoice/internal/numbers"
)

// agentBinding lets the numbers domain check agents for binding without
// depending on the agents package.
type agentBinding struct{ a *agents.Service }

func (b agentBinding) ResolveAgent(ctx context.Context, teamID, agentID string) (numbers.AgentInfo, error) {
	info, err := b.a.ResolveForBinding(ctx, teamID, agentID)
	if errors.Is(err, agents.ErrNotFound) {
		return numbers.AgentInfo{}, numbers.ErrAgentNotFound
	}
	if err != nil {
		return numbers.AgentInfo{}, err
	}
	return numbers.AgentInfo{Provider: info.Provider}, nil
}

// agentCalls gives the calls domain what it needs of agents.
type agentCalls struct{ a *agents.Service }

func (b agentCalls) CallAgent(ctx context.Context, teamID, agentID string) (calls.CallAgent, error) {
	ag, err := b.a.Get(ctx, teamID, agentID)
	if errors.Is(err, agents.ErrNotFound) {
		return calls.CallAgent{}, calls.ErrAgentNotFound
	}
	if err != nil {
		return calls.CallAgent{}, err
	}
	objs := make([]calls.Objective, 0, len(ag.Objectives))
	for _, o := range ag.Objectives {
		objs = append(objs, calls.Objective{Name: o.Name, Description: o.Description})
	}
	providerID := ""
	if ag.ProviderAgentID != nil {
		providerID = *ag.ProviderAgentID
	}
	return calls.CallAgent{ID: ag.ID, Provider: ag.DefaultVoiceProvider, ProviderAgentID: providerID,
		SyncStatus: ag.ProviderSyncStatus, Channels: ag.Channels, Objectives: objs}, nil
}

func (b agentCalls) NormalizeBrief(ctx context.Context, teamID, agentID, text string, vars map[string]string) (map[string]string, error) {
	in := agents.BriefInput{Variables: vars}
	if text != "" {
		in.Text = &text
	}
	nb, err := b.a.NormalizeBrief(ctx, teamID, agentID, in, true)
	if errors.Is(err, agents.ErrNotFound) {
		return nil, calls.ErrAgentNotFound
	}
	if err != nil {
		return nil, err
	}
	return nb.DynamicVariablesPreview, nil
}

// inboundCalls lets the inbound domain record and find calls.
type inboundCalls struct{ c *calls.Service }

func (b inboundCalls) RecordInbound(ctx context.Context, in inbound.InboundCall) (string, error) {
	c, err := b.c.RecordInbound(ctx, calls.InboundCall{TeamID: in.TeamID, AgentID: in.AgentID, ProviderAgentID: in.ProviderAgentID,
		From: in.From, To: in.To, PhoneNumberID: in.PhoneNumberID, ProviderCallID: in.ProviderCallID,
		SessionID: in.SessionID, WebhookURL: in.WebhookURL})
	return c.ID, err
}

func (b inboundCalls) ByProviderID(ctx context.Context, providerCallID string) (inbound.CallRef, bool, error) {
	r, ok, err := b.c.ByProviderID(ctx, providerCallID)
	return inbound.CallRef{ID: r.ID, TeamID: r.TeamID, AgentID: r.AgentID, Direction: r.Direction, From: r.From,
		SessionID: r.SessionID}, ok, err
}

// callVariables answers the carrier's dynamic-variables request with one
// look-up of the call: the calls domain answers outbound calls, the
// inbound domain identifies the caller of inbound ones.
type callVariables struct {
	c  *calls.Service
	in *inbound.Service
}

func (b callVariables) DynamicVariables(ctx context.Context, callControlID string) (map[string]string, bool, error) {
	r, vars, ok, err := b.c.CallVariables(ctx, callControlID)
	if err != nil || !ok {
		return nil, false, err
	}
	if r.Direction != calls.Inbound {
		return vars, true, nil
	}
	return b.in.CallVariables(ctx, inbound.CallRef{ID: r.ID, TeamID: r.TeamID, AgentID: r.AgentID, Direction: r.Direction,
		From: r.From, SessionID: r.SessionID})
}

// assistantIDs tells the inbound gate which assistant runs an agent.
type assistantIDs struct{ a *agents.Service }

func (b assistantIDs) AssistantID(ctx context.Context, teamID, agentID string) (string, error) {
	info, err := b.a.ResolveForBinding(ctx, teamID, agentID)
	if err != nil {
		return "", err
	}
	return info.ProviderAgentID, nil
}

package app

import (
	"context"
	"errors"

	"github.com/peakvoice/peakvoice/internal/agents"
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

package agents

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/peakvoice/peakvoice/internal/httpapi"
)

// HandoffUnified is the only supported handoff voice mode: every assistant
// in the call speaks with one voice, so the switch is seamless.
const HandoffUnified = "unified"

// Handoff error codes, exactly as the spec names them.
const (
	CodeInvalidHandoffPolicy   = "invalid_handoff_policy"
	CodeInvalidHandoffTarget   = "invalid_handoff_target"
	CodeHandoffTargetNotSynced = "handoff_target_not_synced"
)

func handoffError(status int, code, msg string, target int, agentID string) error {
	d := map[string]any{}
	if target >= 0 {
		d["target_index"] = target
		d["agent_id"] = agentID
	}
	return httpapi.NewError(status, code, msg).WithDetails(d)
}

// checkHandoff enforces the handoff rules for an agent's policy. selfID is
// the agent's own id (empty on create). Policy problems come first (400),
// then each target in order: missing from the team (404), unsuitable
// (409 invalid_handoff_target), not synced (409 handoff_target_not_synced).
// A disabled policy is stored as given and not checked against the team.
func (s *Service) checkHandoff(ctx context.Context, teamID, selfID string, h HandoffPolicy) error {
	if !h.Enabled {
		if h.VoiceMode != HandoffUnified {
			return handoffError(http.StatusBadRequest, CodeInvalidHandoffPolicy,
				fmt.Sprintf("voice_mode %q is not supported; use %q", h.VoiceMode, HandoffUnified), -1, "")
		}
		return nil
	}
	if h.VoiceMode != HandoffUnified {
		return handoffError(http.StatusBadRequest, CodeInvalidHandoffPolicy,
			fmt.Sprintf("voice_mode %q is not supported; use %q", h.VoiceMode, HandoffUnified), -1, "")
	}
	if len(h.Targets) == 0 {
		return handoffError(http.StatusBadRequest, CodeInvalidHandoffPolicy,
			"handoff is enabled but lists no targets", -1, "")
	}
	seen := map[string]bool{}
	for i, t := range h.Targets {
		switch {
		case t.AgentID == "":
			return handoffError(http.StatusBadRequest, CodeInvalidHandoffPolicy, fmt.Sprintf("targets[%d] has no agent_id", i), i, t.AgentID)
		case selfID != "" && t.AgentID == selfID:
			return handoffError(http.StatusBadRequest, CodeInvalidHandoffPolicy, "an agent cannot hand off to itself", i, t.AgentID)
		case seen[t.AgentID]:
			return handoffError(http.StatusBadRequest, CodeInvalidHandoffPolicy,
				fmt.Sprintf("agent %s is listed more than once", t.AgentID), i, t.AgentID)
		}
		seen[t.AgentID] = true
	}
	for i, t := range h.Targets {
		r, err := s.load(ctx, s.db.R, teamID, t.AgentID)
		if errors.Is(err, ErrNotFound) {
			return handoffError(http.StatusNotFound, CodeInvalidHandoffTarget,
				fmt.Sprintf("handoff target %s is not an agent of this team", t.AgentID), i, t.AgentID)
		}
		if err != nil {
			return fmt.Errorf("load handoff target: %w", err)
		}
		switch {
		case r.Settings.DefaultVoiceProvider != ProviderTelnyx:
			return handoffError(http.StatusConflict, CodeInvalidHandoffTarget,
				fmt.Sprintf("handoff target %s does not run on %s", t.AgentID, ProviderTelnyx), i, t.AgentID)
		case !contains(r.Settings.Channels, ChannelVoiceInbound):
			return handoffError(http.StatusConflict, CodeInvalidHandoffTarget,
				fmt.Sprintf("handoff target %s does not have the voice_inbound channel", t.AgentID), i, t.AgentID)
		case r.SyncStatus != SyncSynced || r.ProviderAgentID == "":
			return handoffError(http.StatusConflict, CodeHandoffTargetNotSynced,
				fmt.Sprintf("handoff target %s is not synced to the voice runtime (status %s); reconcile it first", t.AgentID, r.SyncStatus), i, t.AgentID)
		}
	}
	return nil
}

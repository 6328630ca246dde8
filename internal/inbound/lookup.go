package inbound

import (
	"context"
)

// LookupResult is the lookup tool's answer to the assistant.
type LookupResult struct {
	MatchStatus                   string            `json:"match_status" enum:"matched,ambiguous,unmatched"`
	MatchedBy                     string            `json:"matched_by,omitempty"`
	CallbackTargetID              string            `json:"callback_target_id,omitempty"`
	ExpectedCallerID              string            `json:"expected_caller_id,omitempty" doc:"Set instead of callback_target_id when the caller is one of the session's expected callers."`
	ContactName                   string            `json:"contact_name,omitempty"`
	OrganizationName              string            `json:"organization_name,omitempty"`
	Label                         string            `json:"label,omitempty"`
	ContextVariables              map[string]string `json:"context_variables,omitempty"`
	SuggestedHandoffTargetAgentID string            `json:"suggested_handoff_target_agent_id,omitempty"`
	Candidates                    []string          `json:"candidates,omitempty" doc:"Labels or names of the tied targets, when ambiguous, so the agent can ask."`
	Message                       string            `json:"message"`
}

// LookupCall identifies the caller of a live inbound call, already found
// by the carrier's id, mid-call from the name they gave and/or their
// number, by the matching rules, and emits callback.matched (and
// handoff.suggested), or callback.ambiguous. found is false when the call
// is not routed by a session.
func (s *Service) LookupCall(ctx context.Context, ref CallRef, callerName, callerPhone string) (LookupResult, bool, error) {
	if ref.SessionID == "" {
		return LookupResult{}, false, nil
	}
	targets, err := candidatesOf(ctx, s.rq, ref.SessionID)
	if err != nil {
		return LookupResult{}, false, err
	}
	if callerPhone == "" {
		callerPhone = ref.From
	}
	m := MatchCaller(targets, callerName, callerPhone)
	var res LookupResult
	var evs []event
	switch m.Status {
	case MatchMatched:
		t := *m.Target
		res = LookupResult{MatchStatus: MatchMatched, MatchedBy: m.Rule, ContextVariables: map[string]string{},
			Message: "The caller is expected. Use the context to help them."}
		if t.expectedCaller {
			res.ExpectedCallerID = t.ID
		} else {
			res.CallbackTargetID = t.ID
		}
		for k, v := range t.ContextVariables {
			res.ContextVariables[k] = stringify(v)
		}
		res.ContactName, res.OrganizationName, res.Label = deref(t.ContactName), deref(t.OrganizationName), deref(t.Label)
		res.SuggestedHandoffTargetAgentID = deref(t.SuggestedHandoffTargetAgentID)
		evs = append(evs, event{"callback.matched", t.eventData(map[string]any{"call_id": ref.ID,
			"match_status": CallerMatched, "matched_by": m.Rule})})
		if res.SuggestedHandoffTargetAgentID != "" {
			evs = append(evs, event{"handoff.suggested", t.eventData(map[string]any{"call_id": ref.ID,
				"suggested_handoff_target_agent_id": res.SuggestedHandoffTargetAgentID})})
		}
	case MatchAmbiguous:
		res = LookupResult{MatchStatus: MatchAmbiguous, MatchedBy: m.Rule,
			Message: "Several expected callers fit. Ask one more identifying question before sharing anything."}
		ids := []string{}
		for _, t := range m.Tied {
			ids = append(ids, t.ID)
			name := deref(t.Label)
			if name == "" {
				name = deref(t.ContactName)
			}
			res.Candidates = append(res.Candidates, name)
		}
		evs = append(evs, event{"callback.ambiguous", map[string]any{"call_id": ref.ID, "match_status": MatchAmbiguous,
			"candidate_target_ids": ids, "matched_by": m.Rule}})
	default:
		res = LookupResult{MatchStatus: MatchNone, Message: "No expected caller fits. Do not share anything specific to a customer."}
	}
	if len(evs) > 0 {
		if err := s.emitEvents(ctx, ref.TeamID, ref.SessionID, evs...); err != nil {
			return LookupResult{}, false, err
		}
	}
	return res, true, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

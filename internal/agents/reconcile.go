package agents

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/peakvoice/peakvoice/internal/db"
)

// AgentReconcileReport says what a reconcile found and did.
type AgentReconcileReport struct {
	Status   string           `json:"status" enum:"in_sync,repaired" doc:"in_sync: nothing needed doing; repaired: see actions."`
	Drift    []AssistantDrift `json:"drift" doc:"Fields where the carrier assistant differed from the agent's current version."`
	Actions  []string         `json:"actions" doc:"What was done: created_assistant, recreated_assistant, pushed_current_version, marked_synced, updated_handoff_source:<agent_id>."`
	Warnings []string         `json:"warnings"`
	Agent    Agent            `json:"agent" doc:"The agent after reconcile."`
}

// AssistantDrift is one field that differed.
type AssistantDrift struct {
	Field    string `json:"field" doc:"assistant (missing), or an assistant field such as instructions or tools."`
	Expected any    `json:"expected" doc:"What the agent's current version implies."`
	Actual   any    `json:"actual" doc:"What the carrier had."`
}

// Report statuses.
const (
	ReconcileInSync   = "in_sync"
	ReconcileRepaired = "repaired"
)

// Reconcile compares the agent's assistant on the runtime with the agent's
// current version and repairs any difference: a missing assistant is
// created again, a drifted one gets the current settings. When the
// assistant was recreated, agents that hand off to this one get their
// handoff tool updated too. Running it again right after reports in_sync.
// A runtime that cannot be reached answers 503 voice_provider_unavailable
// and changes nothing.
func (s *Service) Reconcile(ctx context.Context, teamID, id string) (AgentReconcileReport, error) {
	rep, recreated, err := s.reconcileOne(ctx, teamID, id)
	if err != nil {
		return rep, err
	}
	if recreated {
		s.refreshHandoffSources(ctx, teamID, id, &rep)
	}
	r, err := s.load(ctx, s.db.R, teamID, id)
	if err != nil {
		return rep, err
	}
	rep.Agent = r.view()
	if len(rep.Actions) > 0 {
		rep.Status = ReconcileRepaired
	}
	return rep, nil
}

func (s *Service) reconcileOne(ctx context.Context, teamID, id string) (AgentReconcileReport, bool, error) {
	rep := AgentReconcileReport{Status: ReconcileInSync, Drift: []AssistantDrift{}, Actions: []string{}, Warnings: []string{}}
	unlock := s.locks.lock(id)
	defer unlock()
	r, err := s.load(ctx, s.db.R, teamID, id)
	if err != nil {
		return rep, false, err
	}
	targets, err := s.handoffTargets(ctx, teamID, r.Settings)
	if err != nil {
		return rep, false, err
	}
	spec := s.specFor(r, targets)
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RuntimeTimeout)
	defer cancel()

	var remote RemoteAssistant
	missing := r.ProviderAgentID == ""
	if !missing {
		remote, err = s.rt.GetAssistant(rctx, r.ProviderAgentID)
		switch {
		case runtimeKind(err) == RuntimeNotFound && err != nil:
			missing = true
		case err != nil:
			return rep, false, providerError(err)
		}
	}
	recreated := false
	switch {
	case missing:
		rep.Drift = append(rep.Drift, AssistantDrift{Field: "assistant", Expected: "present", Actual: "missing"})
		created, err := s.rt.CreateAssistant(rctx, spec)
		if err != nil {
			return rep, false, s.recordFailure(ctx, r, err)
		}
		remote = created
		action := "created_assistant"
		if r.ProviderAgentID != "" {
			action, recreated = "recreated_assistant", true
		}
		rep.Actions = append(rep.Actions, action)
	default:
		rep.Drift = diffAssistant(spec, remote.AssistantSpec)
		if len(rep.Drift) > 0 {
			if _, err := s.rt.UpdateAssistant(rctx, remote.ID, spec); err != nil {
				return rep, false, s.recordFailure(ctx, r, err)
			}
			rep.Actions = append(rep.Actions, "pushed_current_version")
		} else if r.SyncStatus != SyncSynced {
			rep.Actions = append(rep.Actions, "marked_synced")
		}
	}
	if len(rep.Actions) > 0 {
		err = s.db.Tx(ctx, func(tx *sql.Tx) error {
			wrote, err := recordSync(ctx, tx, r.ID, r.SyncGeneration, SyncSynced, "", remote.ID, db.Now())
			if err == nil && !wrote {
				rep.Warnings = append(rep.Warnings, "the agent changed during reconcile; run it again")
			}
			return err
		})
	}
	return rep, recreated, err
}

// recordFailure marks the agent as failing to sync and returns the
// client's answer for the runtime error.
func (s *Service) recordFailure(ctx context.Context, r row, cause error) error {
	err := s.db.Tx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		_, err := recordSync(ctx, tx, r.ID, r.SyncGeneration, SyncError, syncErrorText(r.ProviderAgentID, cause), "", db.Now())
		return err
	})
	if err != nil {
		return errors.Join(cause, err)
	}
	return providerError(cause)
}

// refreshHandoffSources pushes every agent whose enabled handoff points at
// target, so its handoff tool names target's new assistant.
func (s *Service) refreshHandoffSources(ctx context.Context, teamID, target string, rep *AgentReconcileReport) {
	all, err := teamAgents(ctx, s.db.R, teamID)
	if err != nil {
		rep.Warnings = append(rep.Warnings, "could not list agents that hand off to this one; reconcile them")
		return
	}
	for _, a := range all {
		h := a.Settings.VoiceConfig.Telnyx.Handoff
		refers := false
		for _, t := range h.Targets {
			refers = refers || (h.Enabled && t.AgentID == target && a.ID != target)
		}
		if !refers {
			continue
		}
		unlock := s.locks.lock(a.ID)
		cur, err := s.load(ctx, s.db.R, teamID, a.ID)
		if err == nil {
			err = s.push(ctx, cur)
		}
		unlock()
		if err != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("agent %s hands off to this agent and could not be updated; reconcile it", a.ID))
			continue
		}
		rep.Actions = append(rep.Actions, "updated_handoff_source:"+a.ID)
	}
}

// diffAssistant lists the fields where the runtime's assistant differs
// from the expected one. Model, voice and language left empty on the agent
// are the runtime's to choose and are not compared.
func diffAssistant(want, got AssistantSpec) []AssistantDrift {
	out := []AssistantDrift{}
	cmp := func(field string, w, g any) {
		if !sameJSON(w, g) {
			out = append(out, AssistantDrift{Field: field, Expected: w, Actual: g})
		}
	}
	cmp("name", want.Name, got.Name)
	cmp("description", want.Description, got.Description)
	cmp("instructions", want.Instructions, got.Instructions)
	cmp("greeting", want.Greeting, got.Greeting)
	for _, f := range []struct{ name, w, g string }{{"model", want.Model, got.Model}, {"voice", want.Voice, got.Voice}, {"language", want.Language, got.Language}} {
		if f.w != "" {
			cmp(f.name, f.w, f.g)
		}
	}
	cmp("dynamic_variables_webhook_url", want.DynamicVariablesWebhookURL, got.DynamicVariablesWebhookURL)
	cmp("dynamic_variables", nonNilMap(want.DynamicVariables), nonNilMap(got.DynamicVariables))
	cmp("enabled_features", sortedFeatures(want.EnabledFeatures), sortedFeatures(got.EnabledFeatures))
	cmp("tools", comparableTools(want.Tools), comparableTools(got.Tools))
	return out
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// comparableTools renders tools in one plain shape for comparison and for
// the drift report.
func comparableTools(tools []AssistantTool) []map[string]any {
	out := []map[string]any{}
	for _, t := range tools {
		m := map[string]any{"type": t.Type}
		switch {
		case t.Webhook != nil:
			w := t.Webhook
			headers := w.Headers
			if headers == nil {
				headers = map[string]string{}
			}
			m["name"], m["description"], m["url"], m["method"] = w.Name, w.Description, w.URL, w.Method
			m["headers"], m["parameters"] = headers, w.Parameters
		case t.Handoff != nil:
			list := []map[string]string{}
			for _, a := range t.Handoff.Assistants {
				list = append(list, map[string]string{"id": a.ID, "name": a.Name})
			}
			m["voice_mode"], m["assistants"] = t.Handoff.VoiceMode, list
		}
		out = append(out, m)
	}
	return out
}

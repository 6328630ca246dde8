package agents

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/httpapi"
)

// allSettingFields is the changed_fields of version 1.
var allSettingFields = []string{"instructions", "greeting", "voice_config", "tools", "channels",
	"default_voice_provider", "call_brief_contract", "objectives", "structured_data_schema"}

func checkName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || len(n) > 200 {
		return "", validationError([]fieldError{{Field: "name", Message: "must be 1 to 200 characters, not only spaces"}})
	}
	return n, nil
}

// Create validates an agent, provisions its assistant on the runtime and,
// only when that worked, stores the agent with version 1. A runtime that is
// unavailable answers 503 voice_provider_unavailable and a runtime that
// refuses answers 502 voice_provider_error; either way nothing is stored.
func (s *Service) Create(ctx context.Context, teamID, name string, f AgentFields) (Agent, error) {
	name, err := checkName(name)
	if err != nil {
		return Agent{}, err
	}
	st, meta, errs := s.apply(defaultSettings(), f, nil)
	if len(errs) > 0 {
		return Agent{}, validationError(errs)
	}
	if err := s.checkHandoff(ctx, teamID, "", st.VoiceConfig.Telnyx.Handoff); err != nil {
		return Agent{}, err
	}
	now := db.Now()
	r := row{ID: uuid.Must(uuid.NewV7()).String(), TeamID: teamID, Name: name, Settings: st, Metadata: meta,
		SyncStatus: SyncSynced, SyncGeneration: 1, CurrentVersion: 1, CreatedAt: now, Updated: now}
	unlock := s.locks.lock(r.ID)
	defer unlock()
	targets, err := s.handoffTargets(ctx, teamID, st)
	if err != nil {
		return Agent{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RuntimeTimeout)
	remote, err := s.rt.CreateAssistant(rctx, s.specFor(r, targets))
	cancel()
	if err != nil {
		s.log.WarnContext(ctx, "create assistant failed", "agent_id", r.ID, "err", err)
		return Agent{}, providerError(err)
	}
	r.ProviderAgentID = remote.ID
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := insertAgent(ctx, tx, r); err != nil {
			return err
		}
		return insertVersion(ctx, tx, r, allSettingFields)
	})
	if err != nil {
		// Do not leave an assistant nobody owns behind.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RuntimeTimeout)
		defer cancel()
		if derr := s.rt.DeleteAssistant(dctx, remote.ID); derr != nil {
			s.log.ErrorContext(ctx, "orphaned assistant after a failed insert", "assistant_id", remote.ID, "err", derr)
		}
		return Agent{}, fmt.Errorf("store agent: %w", err)
	}
	return r.view(), nil
}

// Get returns an agent of the team.
func (s *Service) Get(ctx context.Context, teamID, id string) (Agent, error) {
	r, err := s.load(ctx, s.db.R, teamID, id)
	return r.view(), err
}

// List returns one page of the team's agents, newest first.
func (s *Service) List(ctx context.Context, teamID string, f ListFilter, p httpapi.PageParams) ([]Agent, int, error) {
	rows, total, err := listAgents(ctx, s.db.R, teamID, f, p.Limit(), p.Offset())
	if err != nil {
		return nil, 0, err
	}
	out := make([]Agent, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.view())
	}
	return out, total, nil
}

// Update changes an agent. A change to its settings creates a new version;
// a change to name or metadata alone does not. The agent is stored first,
// then pushed to the runtime: if the push fails the change is kept and the
// agent answers with provider_sync_status "error" and the reason in
// provider_sync_error (reconcile, or any later update, retries the push).
// Handoff targets are checked when voice_config is part of the update.
func (s *Service) Update(ctx context.Context, teamID, id string, name *string, f AgentFields) (Agent, error) {
	unlock := s.locks.lock(id)
	defer unlock()
	r, err := s.load(ctx, s.db.R, teamID, id)
	if err != nil {
		return Agent{}, err
	}
	next := r
	if name != nil {
		if next.Name, err = checkName(*name); err != nil {
			return Agent{}, err
		}
	}
	var errs []fieldError
	next.Settings, next.Metadata, errs = s.apply(r.Settings, f, r.Metadata)
	if len(errs) > 0 {
		return Agent{}, validationError(errs)
	}
	if f.VoiceConfig != nil {
		if err := s.checkHandoff(ctx, teamID, id, next.Settings.VoiceConfig.Telnyx.Handoff); err != nil {
			return Agent{}, err
		}
	}
	changed := changedFields(r.Settings, next.Settings)
	pushNeeded := len(changed) > 0 || next.Name != r.Name
	if !pushNeeded && sameJSON(r.Metadata, next.Metadata) {
		return r.view(), nil // nothing to do
	}
	next.Updated = db.Now()
	if len(changed) > 0 {
		next.CurrentVersion++
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := updateAgent(ctx, tx, next, pushNeeded); err != nil {
			return err
		}
		if len(changed) > 0 {
			return insertVersion(ctx, tx, next, changed)
		}
		return nil
	})
	if err != nil {
		return Agent{}, err
	}
	if pushNeeded {
		next, err = s.load(ctx, s.db.R, teamID, id)
		if err != nil {
			return Agent{}, err
		}
		_ = s.push(ctx, next) // the outcome is recorded on the agent
	}
	r, err = s.load(ctx, s.db.R, teamID, id)
	return r.view(), err
}

// push sends an agent's settings to the runtime (creating the assistant
// when it has none) and records the outcome on the agent, unless the agent
// changed meanwhile. Callers hold the agent's lock.
func (s *Service) push(ctx context.Context, r row) error {
	targets, err := s.handoffTargets(ctx, r.TeamID, r.Settings)
	if err != nil {
		return err
	}
	spec := s.specFor(r, targets)
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RuntimeTimeout)
	var remote RemoteAssistant
	if r.ProviderAgentID == "" {
		remote, err = s.rt.CreateAssistant(rctx, spec)
	} else {
		remote, err = s.rt.UpdateAssistant(rctx, r.ProviderAgentID, spec)
	}
	cancel()
	status, msg := SyncSynced, ""
	if err != nil {
		status, msg = SyncError, syncErrorText(r.ProviderAgentID, err)
		s.log.WarnContext(ctx, "push assistant failed", "agent_id", r.ID, "err", err)
	}
	werr := s.db.Tx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		_, err := recordSync(ctx, tx, r.ID, r.SyncGeneration, status, msg, remote.ID, db.Now())
		return err
	})
	return errors.Join(err, werr)
}

// syncErrorText is the provider_sync_error for a failed push: what failed
// and what to do, in words a team can act on.
func syncErrorText(assistantID string, err error) string {
	switch runtimeKind(err) {
	case RuntimeNotFound:
		return fmt.Sprintf("the assistant %s no longer exists on the voice runtime; POST /api/v1/agents/{agent_id}/reconcile recreates it", assistantID)
	case RuntimeRejected:
		return CodeProviderError + ": " + runtimeDetail(err)
	}
	return CodeProviderUnavailable + ": " + runtimeDetail(err) + "; the change is saved, reconcile to retry"
}

// Delete hides an agent at once and removes its assistant from the runtime
// through a durable job, retried until the runtime confirms (a missing
// assistant counts as removed). An agent that an enabled handoff of another
// agent points at cannot be deleted (409 agent_is_handoff_target).
func (s *Service) Delete(ctx context.Context, teamID, id string) error {
	unlock := s.locks.lock(id)
	defer unlock()
	if _, err := s.load(ctx, s.db.R, teamID, id); err != nil {
		return err
	}
	all, err := teamAgents(ctx, s.db.R, teamID)
	if err != nil {
		return err
	}
	var refs []string
	for _, a := range all {
		h := a.Settings.VoiceConfig.Telnyx.Handoff
		for _, t := range h.Targets {
			if h.Enabled && t.AgentID == id && a.ID != id {
				refs = append(refs, a.ID)
			}
		}
	}
	if len(refs) > 0 {
		return httpapi.NewError(http.StatusConflict, CodeAgentIsHandoffTarget,
			"other agents hand calls off to this agent; remove it from their voice_config.telnyx.handoff first").
			WithDetails(map[string]any{"agent_ids": refs})
	}
	if s.queue == nil {
		return errors.New("agents: no job queue")
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if s.cfg.DeleteGuard != nil {
			if err := s.cfg.DeleteGuard(ctx, tx, teamID, id); err != nil {
				return err
			}
		}
		assistantID, err := markDeleted(ctx, tx, teamID, id, db.Now())
		if err != nil {
			return err
		}
		if assistantID == "" {
			return setDeleted(ctx, tx, id, db.Now())
		}
		_, err = s.queue.Enqueue(ctx, tx, deleteArgs{AgentID: id, AssistantID: assistantID}, deleteInsertOpts())
		return err
	})
}

// ResolveForBinding describes an agent of the team for binding a phone
// number to it. An unknown or deleted agent is ErrNotFound.
func (s *Service) ResolveForBinding(ctx context.Context, teamID, agentID string) (BindingInfo, error) {
	r, err := s.load(ctx, s.db.R, teamID, agentID)
	if err != nil {
		return BindingInfo{}, err
	}
	return BindingInfo{ID: r.ID, Provider: r.Settings.DefaultVoiceProvider, Channels: append([]string(nil), r.Settings.Channels...),
		ProviderAgentID: r.ProviderAgentID, SyncStatus: r.SyncStatus}, nil
}

// Versions returns one page of an agent's versions, newest first.
func (s *Service) Versions(ctx context.Context, teamID, agentID string, p httpapi.PageParams) ([]AgentVersion, int, error) {
	if _, err := s.load(ctx, s.db.R, teamID, agentID); err != nil {
		return nil, 0, err
	}
	return listVersions(ctx, s.db.R, teamID, agentID, p.Limit(), p.Offset())
}

// Version returns one version of an agent.
func (s *Service) Version(ctx context.Context, teamID, agentID string, n int) (AgentVersion, error) {
	if _, err := s.load(ctx, s.db.R, teamID, agentID); err != nil {
		return AgentVersion{}, err
	}
	v, err := versionByNumber(ctx, s.db.R, teamID, agentID, n)
	if errors.Is(err, ErrNotFound) {
		return v, errVersionNotFound
	}
	return v, err
}

// CallBriefSchema returns the call-brief schema of an agent of the team.
func (s *Service) CallBriefSchema(ctx context.Context, teamID, agentID string) (BriefSchema, error) {
	r, err := s.load(ctx, s.db.R, teamID, agentID)
	if err != nil {
		return BriefSchema{}, err
	}
	return schemaFor(r.ID, r.Settings.CallBriefContract), nil
}

package agents

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/peakvoice/peakvoice/internal/httpapi"
)

type createAgentInput struct {
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"200" doc:"The agent's name; also the assistant's name on the carrier."`
		AgentFields
	}
}

type updateAgentInput struct {
	AgentID string `path:"agent_id" doc:"The agent's id."`
	Body    struct {
		Name *string `json:"name,omitempty" minLength:"1" maxLength:"200"`
		AgentFields
	}
}

type agentIDInput struct {
	AgentID string `path:"agent_id" doc:"The agent's id."`
}

type listInput struct {
	httpapi.PageParams
	Channel    string `query:"channel" enum:"voice_outbound,voice_inbound,sms" doc:"Only agents serving this channel."`
	SyncStatus string `query:"provider_sync_status" enum:"pending,synced,error" doc:"Only agents in this sync state."`
	Name       string `query:"name" doc:"Only agents with exactly this name."`
}

type versionsInput struct {
	httpapi.PageParams
	AgentID string `path:"agent_id"`
}

type versionInput struct {
	AgentID       string `path:"agent_id"`
	VersionNumber int    `path:"version_number" minimum:"1"`
}

type normalizeBriefInput struct {
	AgentID string `path:"agent_id"`
	Body    BriefInput
}

type noContent struct {
	Status int `json:"-"`
}

// Error code lists for operation descriptions.
const (
	errsNotFound  = "`404 agent_not_found` for an unknown id or another team's agent."
	errsHandoff   = "Handoff (`voice_config.telnyx.handoff`): `400 invalid_handoff_policy` (no targets while enabled, a duplicate or self target, voice_mode other than unified), `404 invalid_handoff_target` (target not in this team), `409 invalid_handoff_target` (target lacks voice_inbound or is not on telnyx), `409 handoff_target_not_synced` (target not synced)."
	errsProvision = "`503 voice_provider_unavailable` when the voice runtime cannot be reached (Retry-After is set; nothing is stored), `502 voice_provider_error` when it refuses the assistant (details.provider_error says why; nothing is stored)."
)

// Routes mounts the agent operations on api.
func (s *Service) Routes(api huma.API) {
	tags := []string{"Agents"}
	huma.Register(api, huma.Operation{
		OperationID: "list-agents", Method: http.MethodGet, Path: "/api/v1/agents", Tags: tags,
		Summary: "List agents", Description: "The team's agents, newest first, paginated.",
		Security: httpapi.Authed, Errors: []int{http.StatusUnauthorized},
	}, func(ctx context.Context, in *listInput) (*httpapi.List[Agent], error) {
		out, total, err := s.List(ctx, httpapi.MustPrincipal(ctx).TeamID,
			ListFilter{Channel: in.Channel, SyncStatus: in.SyncStatus, Name: in.Name}, in.PageParams)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.NewList(out, in.PageParams, total), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "create-agent", Method: http.MethodPost, Path: "/api/v1/agents", Tags: tags,
		Summary: "Create an agent",
		Description: "Creates the agent's assistant on the voice runtime first, then stores the agent as version 1 with " +
			"provider_sync_status synced. The assistant's dynamic-variables webhook and tools point back at this server. " +
			"Only `name` is required. Errors: `422 validation_error` (details.fields), " + errsHandoff + " " + errsProvision,
		Security: httpapi.Authed, DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict,
			http.StatusUnprocessableEntity, http.StatusBadGateway, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *createAgentInput) (*httpapi.Created[Agent], error) {
		a, err := s.Create(ctx, httpapi.MustPrincipal(ctx).TeamID, in.Body.Name, in.Body.AgentFields)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.NewCreated(a), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-agent", Method: http.MethodGet, Path: "/api/v1/agents/{agent_id}", Tags: tags,
		Summary: "Get an agent", Description: errsNotFound,
		Security: httpapi.Authed, Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *agentIDInput) (*httpapi.Response[Agent], error) {
		a, err := s.Get(ctx, httpapi.MustPrincipal(ctx).TeamID, in.AgentID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(a), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "update-agent", Method: http.MethodPatch, Path: "/api/v1/agents/{agent_id}", Tags: tags,
		Summary: "Update an agent",
		Description: "Changes the fields given; omitted fields stay. A change to anything but name and metadata creates a new version. " +
			"The change is saved, then pushed to the voice runtime: the answer is 200 either way, with provider_sync_status " +
			"synced, or error and the reason in provider_sync_error (POST …/reconcile retries). Handoff targets are checked when " +
			"voice_config is given. Errors: " + errsNotFound + " `422 validation_error`. " + errsHandoff,
		Security: httpapi.Authed,
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict,
			http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *updateAgentInput) (*httpapi.Response[Agent], error) {
		a, err := s.Update(ctx, httpapi.MustPrincipal(ctx).TeamID, in.AgentID, in.Body.Name, in.Body.AgentFields)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(a), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "delete-agent", Method: http.MethodDelete, Path: "/api/v1/agents/{agent_id}", Tags: tags,
		Summary: "Delete an agent",
		Description: "The agent disappears at once (204); its assistant is removed from the voice runtime in the background, " +
			"retried until the runtime confirms. Errors: " + errsNotFound +
			" `409 agent_is_handoff_target` while another agent's enabled handoff lists it (details.agent_ids).",
		Security: httpapi.Authed, DefaultStatus: http.StatusNoContent,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *agentIDInput) (*noContent, error) {
		if err := s.Delete(ctx, httpapi.MustPrincipal(ctx).TeamID, in.AgentID); err != nil {
			return nil, s.fail(ctx, err)
		}
		return &noContent{Status: http.StatusNoContent}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-agent-versions", Method: http.MethodGet, Path: "/api/v1/agents/{agent_id}/versions", Tags: tags,
		Summary: "List an agent's versions", Description: "Immutable snapshots of the agent's settings, newest first. " + errsNotFound,
		Security: httpapi.Authed, Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *versionsInput) (*httpapi.List[AgentVersion], error) {
		out, total, err := s.Versions(ctx, httpapi.MustPrincipal(ctx).TeamID, in.AgentID, in.PageParams)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.NewList(out, in.PageParams, total), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-agent-version", Method: http.MethodGet, Path: "/api/v1/agents/{agent_id}/versions/{version_number}", Tags: tags,
		Summary:     "Get one version of an agent",
		Description: errsNotFound + " `404 agent_version_not_found` for a version number the agent does not have.",
		Security:    httpapi.Authed, Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *versionInput) (*httpapi.Response[AgentVersion], error) {
		v, err := s.Version(ctx, httpapi.MustPrincipal(ctx).TeamID, in.AgentID, in.VersionNumber)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(v), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "reconcile-agent", Method: http.MethodPost, Path: "/api/v1/agents/{agent_id}/reconcile", Tags: tags,
		Summary: "Reconcile an agent with its carrier assistant",
		Description: "Compares the assistant on the voice runtime with the agent's current version and repairs any drift: " +
			"a missing assistant is created again (and agents that hand off to this one are updated), a drifted one gets the " +
			"current settings, a stale error state is cleared. Reports the drift found and the actions taken; a second call " +
			"reports in_sync. Errors: " + errsNotFound + " `503 voice_provider_unavailable`, `502 voice_provider_error` " +
			"(the agent then shows provider_sync_status error).",
		Security: httpapi.Authed,
		Errors:   []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusBadGateway, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *agentIDInput) (*httpapi.Response[AgentReconcileReport], error) {
		rep, err := s.Reconcile(ctx, httpapi.MustPrincipal(ctx).TeamID, in.AgentID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(rep), nil
	})
	s.briefRoutes(api, tags)
}

func (s *Service) briefRoutes(api huma.API, tags []string) {
	huma.Register(api, huma.Operation{
		OperationID: "get-call-brief-schema", Method: http.MethodGet, Path: "/api/v1/agents/{agent_id}/call-brief-schema", Tags: tags,
		Summary: "Get an agent's call-brief schema",
		Description: "What to send as call_brief_variables (a JSON Schema of string values, with required names, allowed values, " +
			"patterns and aliases) and how call_brief_text is used. " + errsNotFound,
		Security: httpapi.Authed, Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *agentIDInput) (*httpapi.Response[BriefSchema], error) {
		out, err := s.CallBriefSchema(ctx, httpapi.MustPrincipal(ctx).TeamID, in.AgentID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(out), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "normalize-call-brief", Method: http.MethodPost, Path: "/api/v1/agents/{agent_id}/call-brief/normalize", Tags: tags,
		Summary: "Preview call-brief normalization",
		Description: "Applies the agent's call-brief contract to a brief exactly as POST /api/v1/calls will, without placing a call: " +
			"normalized variables, where each came from, warnings, missing required fields (advisory here: enforce_required is false) " +
			"and the dynamic variables the voice runtime would receive. Values must be strings: a number, boolean or object is " +
			"`422 validation_error`, never coerced. `422 invalid_call_brief` for a key that cannot be a variable name or a text " +
			"longer than the contract allows. " + errsNotFound,
		Security: httpapi.Authed, Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *normalizeBriefInput) (*httpapi.Response[NormalizedBrief], error) {
		out, err := s.NormalizeBrief(ctx, httpapi.MustPrincipal(ctx).TeamID, in.AgentID, in.Body, false)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(out), nil
	})
}

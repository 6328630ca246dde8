package inbound

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/peakvoice/peakvoice/internal/httpapi"
)

type createSessionInput struct {
	Body struct {
		PhoneNumberID         string         `json:"phone_number_id,omitempty" doc:"A phone number your team holds. A pooled number is leased to the session (409 pool_number_unavailable if it is not available)."`
		UseNumberPool         bool           `json:"use_number_pool,omitempty" doc:"Lease any available number from your pool instead of naming one (409 number_pool_exhausted when none is)."`
		AgentID               string         `json:"agent_id" minLength:"1" doc:"The agent that answers calls on this session."`
		ExpiresAt             *time.Time     `json:"expires_at,omitempty" doc:"Defaults to now + callback_window_seconds."`
		CallbackWindowSeconds *int           `json:"callback_window_seconds,omitempty" minimum:"60" maximum:"2592000" doc:"Default 3600."`
		AllowedCallerNumber   *string        `json:"allowed_caller_number,omitempty" doc:"E.164. When set, calls from other numbers (and not from an expected caller) are rejected at the gate."`
		ContextVariables      map[string]any `json:"context_variables,omitempty" doc:"Session-wide facts returned on every dynamic-variables request. Never put caller-specific facts here: unmatched callers get them too."`
		WebhookURL            *string        `json:"webhook_url,omitempty" maxLength:"2048" doc:"Receives this session's events."`
		ExternalSessionID     *string        `json:"external_session_id,omitempty" maxLength:"255" doc:"Your own id, to filter by."`
	}
}

type sessionIDInput struct {
	ID string `path:"id"`
}

type patchSessionInput struct {
	ID   string `path:"id"`
	Body struct {
		ExpiresAt             *time.Time     `json:"expires_at,omitempty"`
		CallbackWindowSeconds *int           `json:"callback_window_seconds,omitempty" minimum:"60" maximum:"2592000" doc:"Changing it without expires_at sets expires_at to now + the window."`
		ContextVariables      map[string]any `json:"context_variables,omitempty"`
		Status                *string        `json:"status,omitempty" enum:"released" doc:"Set to released to end the session (emits session.released)."`
	}
}

type listSessionsInput struct {
	httpapi.PageParams
	AgentID           string `query:"agent_id"`
	Status            string `query:"status" enum:"ready,expired,released,deleted" doc:"One status. Without it, every session except deleted ones."`
	ExternalSessionID string `query:"external_session_id"`
	PhoneNumberID     string `query:"phone_number_id"`
}

type targetBody struct {
	Label                         httpapi.Nullable[string]         `json:"label,omitempty"`
	OrganizationName              httpapi.Nullable[string]         `json:"organization_name,omitempty"`
	ContactName                   httpapi.Nullable[string]         `json:"contact_name,omitempty" doc:"Matched case-insensitively against the caller's spoken name (equality or a shared word)."`
	KnownPhoneNumbers             httpapi.Nullable[[]string]       `json:"known_phone_numbers,omitempty" doc:"E.164 numbers; normalized on write; exact match against the caller's number."`
	Aliases                       httpapi.Nullable[[]string]       `json:"aliases,omitempty" doc:"Case-insensitive substrings of what the caller says."`
	MatchHints                    httpapi.Nullable[map[string]any] `json:"match_hints,omitempty" doc:"Free-form cues; text values are compared with the caller's name and number."`
	ContextVariables              httpapi.Nullable[map[string]any] `json:"context_variables,omitempty" doc:"Returned only when this target matches."`
	Priority                      httpapi.Nullable[int]            `json:"priority,omitempty" doc:"Higher is tried first when several targets match."`
	SuggestedHandoffTargetAgentID httpapi.Nullable[string]         `json:"suggested_handoff_target_agent_id,omitempty"`
}

func (b targetBody) fields() TargetFields {
	set := map[string]bool{}
	mark := func(name string, ok bool) {
		if ok {
			set[name] = true
		}
	}
	mark("label", b.Label.Set)
	mark("organization_name", b.OrganizationName.Set)
	mark("contact_name", b.ContactName.Set)
	mark("known_phone_numbers", b.KnownPhoneNumbers.Set)
	mark("aliases", b.Aliases.Set)
	mark("match_hints", b.MatchHints.Set)
	mark("context_variables", b.ContextVariables.Set)
	mark("priority", b.Priority.Set)
	mark("suggested_handoff_target_agent_id", b.SuggestedHandoffTargetAgentID.Set)
	return TargetFields{Label: b.Label.Ptr(), OrganizationName: b.OrganizationName.Ptr(), ContactName: b.ContactName.Ptr(),
		KnownPhoneNumbers: b.KnownPhoneNumbers.Value, Aliases: b.Aliases.Value, MatchHints: b.MatchHints.Value,
		ContextVariables: b.ContextVariables.Value, Priority: b.Priority.Ptr(),
		SuggestedHandoffTargetAgentID: b.SuggestedHandoffTargetAgentID.Ptr(), Set: set}
}

type addTargetInput struct {
	ID   string `path:"id"`
	Body targetBody
}

type patchTargetInput struct {
	ID       string `path:"id"`
	TargetID string `path:"target_id"`
	Body     targetBody
}

type targetIDInput struct {
	ID       string `path:"id"`
	TargetID string `path:"target_id"`
}

type callerBody struct {
	PhoneNumber httpapi.Nullable[string] `json:"phone_number,omitempty" doc:"E.164; normalized on write. Required when adding."`
	ContactName httpapi.Nullable[string] `json:"contact_name,omitempty"`
	Label       httpapi.Nullable[string] `json:"label,omitempty"`
}

func (b callerBody) fields() CallerFields {
	set := map[string]bool{}
	if b.PhoneNumber.Set && !b.PhoneNumber.Null {
		set["phone_number"] = true
	}
	if b.ContactName.Set {
		set["contact_name"] = true
	}
	if b.Label.Set {
		set["label"] = true
	}
	return CallerFields{PhoneNumber: b.PhoneNumber.Ptr(), ContactName: b.ContactName.Ptr(), Label: b.Label.Ptr(), Set: set}
}

type addCallerInput struct {
	ID   string `path:"id"`
	Body callerBody
}

type patchCallerInput struct {
	ID       string `path:"id"`
	CallerID string `path:"caller_id"`
	Body     callerBody
}

type callerIDInput struct {
	ID       string `path:"id"`
	CallerID string `path:"caller_id"`
}

type emptyOutput struct {
	Status int `json:"-"`
}

// Routes mounts the inbound-session operations.
func (s *Service) Routes(api huma.API) {
	tags := []string{"Inbound sessions"}
	base := "/api/v1/inbound-sessions"
	op := func(id, method, path, summary, desc string, status int, errs ...int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Tags: tags, Summary: summary, Description: desc,
			Security: httpapi.Authed, DefaultStatus: status, Errors: append([]int{401}, errs...)}
	}
	huma.Register(api, op("create-inbound-session", http.MethodPost, base, "Open an inbound callback session",
		"Ties one of your numbers and an agent to a callback window. Errors: 404 `phone_number_not_found`, 404 `agent_not_found`, 422 `invalid_phone_number`, `invalid_expires_at`, `invalid_webhook_url`.",
		http.StatusCreated, 404, 422), func(ctx context.Context, in *createSessionInput) (*httpapi.Created[Session], error) {
		b := in.Body
		sess, err := s.CreateSession(ctx, httpapi.MustPrincipal(ctx).TeamID, SessionInput{PhoneNumberID: b.PhoneNumberID, UseNumberPool: b.UseNumberPool,
			AgentID: b.AgentID, ExpiresAt: b.ExpiresAt, CallbackWindowSeconds: b.CallbackWindowSeconds,
			AllowedCallerNumber: b.AllowedCallerNumber, ContextVariables: b.ContextVariables, WebhookURL: b.WebhookURL,
			ExternalSessionID: b.ExternalSessionID})
		if err != nil {
			return nil, s.fail(ctx, err, "inbound session")
		}
		return httpapi.NewCreated(sess), nil
	})
	huma.Register(api, op("list-inbound-sessions", http.MethodGet, base, "List inbound sessions", "Newest first, with embedded targets and expected callers.", 0, 422),
		func(ctx context.Context, in *listSessionsInput) (*httpapi.List[Session], error) {
			list, total, err := s.ListSessions(ctx, httpapi.MustPrincipal(ctx).TeamID, SessionFilter{AgentID: in.AgentID,
				Status: in.Status, ExternalSessionID: in.ExternalSessionID, PhoneNumberID: in.PhoneNumberID}, in.PageParams)
			if err != nil {
				return nil, s.fail(ctx, err, "inbound session")
			}
			return httpapi.NewList(list, in.PageParams, total), nil
		})
	huma.Register(api, op("get-inbound-session", http.MethodGet, base+"/{id}", "Get an inbound session", "", 0, 404),
		func(ctx context.Context, in *sessionIDInput) (*httpapi.Response[Session], error) {
			sess, err := s.GetSession(ctx, httpapi.MustPrincipal(ctx).TeamID, in.ID)
			if err != nil {
				return nil, s.fail(ctx, err, "inbound session")
			}
			return httpapi.OK(sess), nil
		})
	huma.Register(api, op("update-inbound-session", http.MethodPatch, base+"/{id}", "Update an inbound session",
		"Patch expires_at, callback_window_seconds, context_variables, or set status to released. Errors: 409 `session_closed`, 422 `invalid_expires_at`, `invalid_status_transition`.",
		0, 404, 409, 422), func(ctx context.Context, in *patchSessionInput) (*httpapi.Response[Session], error) {
		b := in.Body
		sess, err := s.PatchSession(ctx, httpapi.MustPrincipal(ctx).TeamID, in.ID, SessionPatch{ExpiresAt: b.ExpiresAt,
			CallbackWindowSeconds: b.CallbackWindowSeconds, ContextVariables: b.ContextVariables, Status: b.Status})
		if err != nil {
			return nil, s.fail(ctx, err, "inbound session")
		}
		return httpapi.OK(sess), nil
	})
	huma.Register(api, op("delete-inbound-session", http.MethodDelete, base+"/{id}", "Delete an inbound session", "Marks it deleted. Deleting again is a no-op (204).", http.StatusNoContent, 404),
		func(ctx context.Context, in *sessionIDInput) (*emptyOutput, error) {
			if err := s.DeleteSession(ctx, httpapi.MustPrincipal(ctx).TeamID, in.ID); err != nil {
				return nil, s.fail(ctx, err, "inbound session")
			}
			return &emptyOutput{Status: http.StatusNoContent}, nil
		})

	huma.Register(api, op("add-callback-target", http.MethodPost, base+"/{id}/callback-targets", "Add a callback target", "Phone numbers are normalized to E.164 (422 `invalid_phone_number`).", http.StatusCreated, 404, 409, 422),
		func(ctx context.Context, in *addTargetInput) (*httpapi.Created[Target], error) {
			t, err := s.AddTarget(ctx, httpapi.MustPrincipal(ctx).TeamID, in.ID, in.Body.fields())
			if err != nil {
				return nil, s.fail(ctx, err, "inbound session")
			}
			return httpapi.NewCreated(t), nil
		})
	huma.Register(api, op("update-callback-target", http.MethodPatch, base+"/{id}/callback-targets/{target_id}", "Update a callback target", "Changes only the fields given; null clears a field.", 0, 404, 409, 422),
		func(ctx context.Context, in *patchTargetInput) (*httpapi.Response[Target], error) {
			t, err := s.PatchTarget(ctx, httpapi.MustPrincipal(ctx).TeamID, in.ID, in.TargetID, in.Body.fields())
			if err != nil {
				return nil, s.fail(ctx, err, "callback target")
			}
			return httpapi.OK(t), nil
		})
	huma.Register(api, op("delete-callback-target", http.MethodDelete, base+"/{id}/callback-targets/{target_id}", "Remove a callback target", "", http.StatusNoContent, 404),
		func(ctx context.Context, in *targetIDInput) (*emptyOutput, error) {
			if err := s.DeleteTarget(ctx, httpapi.MustPrincipal(ctx).TeamID, in.ID, in.TargetID); err != nil {
				return nil, s.fail(ctx, err, "callback target")
			}
			return &emptyOutput{Status: http.StatusNoContent}, nil
		})

	s.PoolRoutes(api)
	huma.Register(api, op("add-expected-caller", http.MethodPost, base+"/{id}/expected-callers", "Add an expected caller", "`phone_number` is required (E.164).", http.StatusCreated, 404, 409, 422),
		func(ctx context.Context, in *addCallerInput) (*httpapi.Created[ExpectedCaller], error) {
			if !in.Body.PhoneNumber.Set || in.Body.PhoneNumber.Null {
				return nil, httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidPhoneNumber, "phone_number is required")
			}
			c, err := s.AddCaller(ctx, httpapi.MustPrincipal(ctx).TeamID, in.ID, in.Body.fields())
			if err != nil {
				return nil, s.fail(ctx, err, "inbound session")
			}
			return httpapi.NewCreated(c), nil
		})
	huma.Register(api, op("update-expected-caller", http.MethodPatch, base+"/{id}/expected-callers/{caller_id}", "Update an expected caller", "", 0, 404, 409, 422),
		func(ctx context.Context, in *patchCallerInput) (*httpapi.Response[ExpectedCaller], error) {
			c, err := s.PatchCaller(ctx, httpapi.MustPrincipal(ctx).TeamID, in.ID, in.CallerID, in.Body.fields())
			if err != nil {
				return nil, s.fail(ctx, err, "expected caller")
			}
			return httpapi.OK(c), nil
		})
	huma.Register(api, op("delete-expected-caller", http.MethodDelete, base+"/{id}/expected-callers/{caller_id}", "Remove an expected caller", "", http.StatusNoContent, 404),
		func(ctx context.Context, in *callerIDInput) (*emptyOutput, error) {
			if err := s.DeleteCaller(ctx, httpapi.MustPrincipal(ctx).TeamID, in.ID, in.CallerID); err != nil {
				return nil, s.fail(ctx, err, "expected caller")
			}
			return &emptyOutput{Status: http.StatusNoContent}, nil
		})
}

type poolListInput struct {
	httpapi.PageParams
	Status string `query:"status" enum:"available,leased,draining,cooldown"`
}

type poolAddInput struct {
	Body struct {
		PhoneNumberID string `json:"phone_number_id" minLength:"1"`
	}
}

type poolIDInput struct {
	PhoneNumberID string `path:"phone_number_id"`
}

// PoolRoutes mounts the number-pool operations.
func (s *Service) PoolRoutes(api huma.API) {
	tags := []string{"Number pool"}
	op := func(id, method, path, summary, desc string, status int, errs ...int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Tags: tags, Summary: summary, Description: desc,
			Security: httpapi.Authed, DefaultStatus: status, Errors: append([]int{401}, errs...)}
	}
	huma.Register(api, op("list-number-pool", http.MethodGet, "/api/v1/number-pool", "List the number pool",
		"Each pooled number with its state: available, leased (to inbound_session_id), draining (its session ended; late callers still reach that session's agent until state_until), cooldown (not leased again until state_until).",
		0), func(ctx context.Context, in *poolListInput) (*httpapi.List[PoolEntry], error) {
		list, total, err := s.ListPool(ctx, httpapi.MustPrincipal(ctx).TeamID, in.Status, in.PageParams)
		if err != nil {
			return nil, s.fail(ctx, err, "pool entry")
		}
		return httpapi.NewList(list, in.PageParams, total), nil
	})
	huma.Register(api, op("add-to-number-pool", http.MethodPost, "/api/v1/number-pool", "Put a number in the pool",
		"Errors: 404 `phone_number_not_found`, 409 `phone_number_already_pooled`.", http.StatusCreated, 404, 409),
		func(ctx context.Context, in *poolAddInput) (*httpapi.Created[PoolEntry], error) {
			e, err := s.AddToPool(ctx, httpapi.MustPrincipal(ctx).TeamID, in.Body.PhoneNumberID)
			if err != nil {
				return nil, s.fail(ctx, err, "pool entry")
			}
			return httpapi.NewCreated(e), nil
		})
	huma.Register(api, op("remove-from-number-pool", http.MethodDelete, "/api/v1/number-pool/{phone_number_id}", "Take a number out of the pool",
		"Only an available number can leave the pool (409 `pool_number_in_use` otherwise).", http.StatusNoContent, 404, 409),
		func(ctx context.Context, in *poolIDInput) (*emptyOutput, error) {
			if err := s.RemoveFromPool(ctx, httpapi.MustPrincipal(ctx).TeamID, in.PhoneNumberID); err != nil {
				return nil, s.fail(ctx, err, "pool entry")
			}
			return &emptyOutput{Status: http.StatusNoContent}, nil
		})
}

func (s *Service) fail(ctx context.Context, err error, what string) error {
	return httpapi.Fail(ctx, s.log, err, errNotFound, notFound(what))
}

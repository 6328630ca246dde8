package numbers

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/httpapi"
)

// SyncChange is one thing sync changed.
type SyncChange struct {
	PhoneNumberID string `json:"phone_number_id"`
	PhoneNumber   string `json:"phone_number"`
	Field         string `json:"field" doc:"status, capabilities, messaging_routing or voice_routing."`
	From          string `json:"from"`
	To            string `json:"to"`
}

// SyncReport is the answer of POST /phone-numbers/sync.
type SyncReport struct {
	Checked int          `json:"checked" doc:"Numbers of the team compared with the carrier."`
	Changes []SyncChange `json:"changes"`
}

// Sync compares the team's numbers with the carrier account and repairs
// what drifted: numbers the carrier no longer has become missing (and
// active again if they come back), capabilities follow the carrier, and
// message routing is pointed back at this server.
func (s *Service) Sync(ctx context.Context, teamID string) (SyncReport, error) {
	inv, err := s.cfg.Inventory.ListNumbers(ctx)
	if err != nil {
		return SyncReport{}, carrierFailure(err)
	}
	byNumber := map[string]CarrierNumber{}
	for _, c := range inv {
		byNumber[c.PhoneNumber] = c
	}
	profile, err := carrierResource(ctx, s.db.R, "messaging_profile")
	if err != nil && !errors.Is(err, errNotFound) {
		return SyncReport{}, err
	}
	gate, err := carrierResource(ctx, s.db.R, "voice_gate_app")
	if err != nil && !errors.Is(err, errNotFound) {
		return SyncReport{}, err
	}
	mine, _, err := listNumbers(ctx, s.db.R, teamID, Filter{}, 1<<30, 0)
	if err != nil {
		return SyncReport{}, err
	}
	rep := SyncReport{Checked: len(mine), Changes: []SyncChange{}}
	for _, n := range mine {
		change := func(field, from, to string) {
			rep.Changes = append(rep.Changes, SyncChange{PhoneNumberID: n.ID, PhoneNumber: n.PhoneNumber, Field: field, From: from, To: to})
		}
		before := n
		c, ok := byNumber[n.PhoneNumber]
		switch {
		case !ok || !c.Active:
			n.Status = StatusMissing
		case n.Status == StatusMissing:
			n.Status = StatusActive
		}
		if ok {
			n.Capabilities = Capabilities{SMS: c.SMS, Voice: c.Voice}
			if c.SMS && (profile == "" || c.MessagingProfileID != profile) {
				if err := s.routeMessaging(ctx, c.ID); err != nil {
					return rep, carrierFailure(err)
				}
				change("messaging_routing", c.MessagingProfileID, "peak voice")
			}
			if c.Voice && s.cfg.VoiceGateURL != "" && (gate == "" || c.ConnectionID != gate) {
				if err := s.routeVoice(ctx, c.ID); err != nil {
					return rep, carrierFailure(err)
				}
				change("voice_routing", c.ConnectionID, "peak voice gate")
			}
		}
		if n.Status != before.Status {
			change("status", before.Status, n.Status)
		}
		if n.Capabilities != before.Capabilities {
			change("capabilities", capString(before.Capabilities), capString(n.Capabilities))
		}
		if n.Status != before.Status || n.Capabilities != before.Capabilities {
			n.UpdatedAt = db.Now()
			if err := updateNumber(ctx, s.db.W, n); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

func capString(c Capabilities) string {
	switch {
	case c.SMS && c.Voice:
		return "sms,voice"
	case c.SMS:
		return "sms"
	case c.Voice:
		return "voice"
	}
	return "none"
}

// Available is a carrier number no team holds.
type Available struct {
	PhoneNumber      string       `json:"phone_number"`
	ProviderNumberID string       `json:"provider_number_id"`
	Capabilities     Capabilities `json:"capabilities"`
}

// Available lists the carrier account's active numbers that no team holds.
func (s *Service) Available(ctx context.Context) ([]Available, error) {
	inv, err := s.cfg.Inventory.ListNumbers(ctx)
	if err != nil {
		return nil, carrierFailure(err)
	}
	held, err := heldNumbers(ctx, s.db.R)
	if err != nil {
		return nil, err
	}
	out := []Available{}
	for _, c := range inv {
		if _, taken := held[c.PhoneNumber]; taken || !c.Active {
			continue
		}
		out = append(out, Available{PhoneNumber: c.PhoneNumber, ProviderNumberID: c.ID, Capabilities: Capabilities{SMS: c.SMS, Voice: c.Voice}})
	}
	return out, nil
}

type claimNumberInput struct {
	Body struct {
		PhoneNumber      string  `json:"phone_number,omitempty" maxLength:"64" doc:"E.164 number of the carrier account to claim."`
		ProviderNumberID string  `json:"provider_number_id,omitempty" maxLength:"128" doc:"Or the carrier's id of the number."`
		Label            *string `json:"label,omitempty" maxLength:"200"`
		VoiceAgentID     *string `json:"voice_agent_id,omitempty" doc:"Bind the number to this agent at once."`
	}
}

type patchNumberInput struct {
	PhoneID string `path:"phone_id"`
	Body    struct {
		Label        httpapi.Nullable[string] `json:"label,omitempty" doc:"A display label; null clears it."`
		Status       string                   `json:"status,omitempty" enum:"active,inactive" doc:"Switch the number off (inactive) or on (active)."`
		VoiceAgentID httpapi.Nullable[string] `json:"voice_agent_id,omitempty" doc:"Bind to an agent; null unbinds."`
	}
}

type listNumbersInput struct {
	httpapi.PageParams
	VoiceAgentID string `query:"voice_agent_id" doc:"Only numbers bound to this agent."`
	Status       string `query:"status" enum:"active,inactive,missing"`
	Capability   string `query:"capability" enum:"sms,voice" doc:"Only numbers with this capability."`
}

type numberIDInput struct {
	PhoneID string `path:"phone_id"`
}

type noContent struct {
	Status int `json:"-"`
}

// Routes mounts the phone-number operations.
func (s *Service) Routes(api huma.API) {
	tags := []string{"Phone numbers"}
	base := "/api/v1/phone-numbers"
	huma.Register(api, huma.Operation{
		OperationID: "list-phone-numbers", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List the team's phone numbers", Security: httpapi.Authed, Errors: []int{401},
	}, func(ctx context.Context, in *listNumbersInput) (*httpapi.List[Number], error) {
		ns, total, err := listNumbers(ctx, s.db.R, httpapi.MustPrincipal(ctx).TeamID,
			Filter{VoiceAgentID: in.VoiceAgentID, Status: in.Status, Capability: in.Capability}, in.Limit(), in.Offset())
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.NewList(ns, in.PageParams, total), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "claim-phone-number", Method: http.MethodPost, Path: base, Tags: tags,
		Summary: "Claim a number of the carrier account",
		Description: "Gives the team a number the carrier account owns, named by `phone_number` (E.164) or `provider_number_id`, and routes its messages to Peak Voice. " +
			"Errors: 409 `phone_number_taken` (another team holds it), 409 `phone_number_already_claimed`, 422 `phone_number_not_in_carrier_account`, " +
			"422 `invalid_number_identifier`, 404 `agent_not_found` and 409 `phone_provider_mismatch` for `voice_agent_id`, 502 `telephony_provider_error`.",
		Security: httpapi.Authed, DefaultStatus: http.StatusCreated, Errors: []int{401, 404, 409, 422, 502},
	}, func(ctx context.Context, in *claimNumberInput) (*httpapi.Created[Number], error) {
		n, err := s.Claim(ctx, httpapi.MustPrincipal(ctx).TeamID, ClaimInput{PhoneNumber: in.Body.PhoneNumber,
			ProviderNumberID: in.Body.ProviderNumberID, Label: in.Body.Label, VoiceAgentID: in.Body.VoiceAgentID})
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.NewCreated(n), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "available-phone-numbers", Method: http.MethodGet, Path: base + "/available", Tags: tags,
		Summary: "List carrier numbers no team holds", Description: "The carrier account's active numbers that can be claimed.",
		Security: httpapi.Authed, Errors: []int{401, 502},
	}, func(ctx context.Context, _ *struct{}) (*httpapi.Response[[]Available], error) {
		av, err := s.Available(ctx)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(av), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "sync-phone-numbers", Method: http.MethodPost, Path: base + "/sync", Tags: tags,
		Summary:     "Sync the team's numbers with the carrier",
		Description: "Refreshes status and capabilities from the carrier, repairs message routing, and reports every change.",
		Security:    httpapi.Authed, Errors: []int{401, 502},
	}, func(ctx context.Context, _ *struct{}) (*httpapi.Response[SyncReport], error) {
		rep, err := s.Sync(ctx, httpapi.MustPrincipal(ctx).TeamID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(rep), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-phone-number", Method: http.MethodGet, Path: base + "/{phone_id}", Tags: tags,
		Summary: "Get a phone number", Security: httpapi.Authed, Errors: []int{401, 404},
	}, func(ctx context.Context, in *numberIDInput) (*httpapi.Response[Number], error) {
		n, err := s.Get(ctx, httpapi.MustPrincipal(ctx).TeamID, in.PhoneID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(n), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "update-phone-number", Method: http.MethodPatch, Path: base + "/{phone_id}", Tags: tags,
		Summary:     "Update a phone number: label, status, agent binding",
		Description: "`voice_agent_id` binds the number to an agent of the team (404 `agent_not_found` otherwise; 409 `phone_provider_mismatch` when the agent's provider differs from the line's); null unbinds.",
		Security:    httpapi.Authed, Errors: []int{401, 404, 409, 422},
	}, func(ctx context.Context, in *patchNumberInput) (*httpapi.Response[Number], error) {
		p := Patch{Label: in.Body.Label.Ptr(), ClearLabel: in.Body.Label.Null,
			VoiceAgentID: in.Body.VoiceAgentID.Ptr(), ClearAgent: in.Body.VoiceAgentID.Null}
		if in.Body.Status != "" {
			p.Status = &in.Body.Status
		}
		n, err := s.Update(ctx, httpapi.MustPrincipal(ctx).TeamID, in.PhoneID, p)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(n), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "release-phone-number", Method: http.MethodDelete, Path: base + "/{phone_id}", Tags: tags,
		Summary: "Release a phone number", Description: "The team stops holding the number; it stays on the carrier account and becomes available.",
		Security: httpapi.Authed, DefaultStatus: http.StatusNoContent, Errors: []int{401, 404},
	}, func(ctx context.Context, in *numberIDInput) (*noContent, error) {
		if err := s.Release(ctx, httpapi.MustPrincipal(ctx).TeamID, in.PhoneID); err != nil {
			return nil, s.fail(ctx, err)
		}
		return &noContent{Status: http.StatusNoContent}, nil
	})
}

func (s *Service) fail(ctx context.Context, err error) error {
	return httpapi.Fail(ctx, s.log, err, errNotFound, notFound())
}

// Package numbers is a team's phone-number inventory: claiming numbers the
// carrier account owns, capabilities and status, binding a number to the
// voice agent that answers it, syncing with the carrier, and listing the
// account's numbers no team holds yet.
package numbers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/peakvoice/peakvoice/internal/carriererr"
	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/phonenum"
)

// ProviderTelnyx is the only provider today.
const ProviderTelnyx = "telnyx"

// Number statuses.
const (
	StatusActive   = "active"   // usable
	StatusInactive = "inactive" // switched off by the team
	StatusMissing  = "missing"  // the carrier no longer has it (seen by sync)
)

// CarrierNumber is a number as the carrier account has it.
type CarrierNumber struct {
	ID                 string
	PhoneNumber        string
	Active             bool
	SMS, Voice         bool
	MessagingProfileID string
	ConnectionID       string
}

// Inventory is what this package needs from the carrier.
type Inventory interface {
	ListNumbers(ctx context.Context) ([]CarrierNumber, error)
	// EnsureMessagingProfile returns the id of a messaging profile whose
	// webhook is webhookURL, updating existingID or creating one.
	EnsureMessagingProfile(ctx context.Context, existingID, name, webhookURL string) (string, error)
	AssignMessagingProfile(ctx context.Context, numberID, profileID string) error
	// EnsureVoiceApp returns the id of a voice application whose voice URL
	// and status callback are the given ones, updating existingID or
	// creating one.
	EnsureVoiceApp(ctx context.Context, existingID, name, voiceURL, statusURL string) (string, error)
	RouteVoice(ctx context.Context, numberID, appID string) error
}

// AgentInfo is what binding needs to know about an agent.
type AgentInfo struct {
	Provider string
}

// AgentResolver finds a team's agent for binding; it returns an error
// satisfying errors.Is(err, ErrAgentNotFound) when the team has none.
type AgentResolver interface {
	ResolveAgent(ctx context.Context, teamID, agentID string) (AgentInfo, error)
}

// ErrAgentNotFound is what an AgentResolver returns for an unknown agent.
var ErrAgentNotFound = errors.New("agent not found")

// Config configures the service.
type Config struct {
	DB        *db.DB
	Inventory Inventory
	Agents    AgentResolver // may be set later with SetAgents
	// MessagingWebhookURL is where the carrier sends message events for
	// the numbers Peak Voice manages.
	MessagingWebhookURL string
	// VoiceGateURL answers the carrier for every inbound call to a number
	// Peak Voice manages; CallStatusURL receives those calls' progress.
	VoiceGateURL, CallStatusURL string
	Logger                      *slog.Logger
}

// Service manages phone numbers.
type Service struct {
	cfg Config
	db  *db.DB
	log *slog.Logger
}

// New builds the service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger}
}

// SetAgents plugs in the agent resolver once the agents service exists.
func (s *Service) SetAgents(r AgentResolver) { s.cfg.Agents = r }

// Capabilities says what a number can do.
type Capabilities struct {
	SMS   bool `json:"sms"`
	Voice bool `json:"voice"`
}

// Number is a phone number held by a team.
type Number struct {
	ID               string       `json:"id"`
	PhoneNumber      string       `json:"phone_number" doc:"E.164."`
	Provider         string       `json:"provider" enum:"telnyx"`
	ProviderNumberID string       `json:"provider_number_id" doc:"The carrier's id for the number."`
	Status           string       `json:"status" enum:"active,inactive,missing" doc:"active: usable; inactive: switched off by the team; missing: the carrier account no longer has it."`
	Capabilities     Capabilities `json:"capabilities"`
	VoiceAgentID     *string      `json:"voice_agent_id" doc:"The agent that answers calls to this number and places calls from it; null when unbound."`
	Label            *string      `json:"label"`
	CreatedAt        time.Time    `json:"created_at"`
	UpdatedAt        time.Time    `json:"updated_at"`

	teamID string
}

// TeamID is the owning team.
func (n Number) TeamID() string { return n.teamID }

// Error codes of this domain.
const (
	CodeNumberNotOnCarrier = "phone_number_not_in_carrier_account"
	CodeNumberTaken        = "phone_number_taken"
	CodeNumberClaimed      = "phone_number_already_claimed"
	CodeAgentNotFound      = "agent_not_found"
	CodeProviderMismatch   = "phone_provider_mismatch"
	CodeTelephonyProvider  = "telephony_provider_error"
	CodeInvalidNumber      = "invalid_phone_number"
	CodeNumberIdentifier   = "invalid_number_identifier"
)

var errNotFound = errors.New("not found")

func notFound() *httpapi.Error {
	return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, "no such phone number")
}

// carrierFailure turns a carrier error into the API's answer.
func carrierFailure(err error) *httpapi.Error {
	msg := "the carrier could not complete the request"
	if d := carriererr.DetailOf(err); d != "" {
		msg += ": " + d
	}
	return httpapi.NewError(http.StatusBadGateway, CodeTelephonyProvider, msg)
}

// ClaimInput names a carrier number to claim: by E.164 or by carrier id.
type ClaimInput struct {
	PhoneNumber      string
	ProviderNumberID string
	Label            *string
	VoiceAgentID     *string
}

// Claim gives the team a number the carrier account owns and points its
// message events at this server.
func (s *Service) Claim(ctx context.Context, teamID string, in ClaimInput) (Number, error) {
	if (in.PhoneNumber == "") == (in.ProviderNumberID == "") {
		return Number{}, httpapi.NewError(http.StatusUnprocessableEntity, CodeNumberIdentifier,
			"give exactly one of phone_number and provider_number_id")
	}
	want := in.PhoneNumber
	if want != "" {
		e164, err := phonenum.E164(want)
		if err != nil {
			return Number{}, httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidNumber, phonenum.Describe("phone_number", err))
		}
		want = e164
	}
	if err := s.checkBinding(ctx, teamID, in.VoiceAgentID); err != nil {
		return Number{}, err
	}
	inv, err := s.cfg.Inventory.ListNumbers(ctx)
	if err != nil {
		return Number{}, carrierFailure(err)
	}
	var cn *CarrierNumber
	for i := range inv {
		if (want != "" && inv[i].PhoneNumber == want) || (in.ProviderNumberID != "" && inv[i].ID == in.ProviderNumberID) {
			cn = &inv[i]
			break
		}
	}
	if cn == nil {
		return Number{}, httpapi.NewError(http.StatusUnprocessableEntity, CodeNumberNotOnCarrier,
			"the carrier account has no such number; GET /api/v1/phone-numbers/available lists the ones you can claim")
	}
	if holder, err := numberByE164(ctx, s.db.R, cn.PhoneNumber); err == nil {
		if holder.teamID == teamID {
			return Number{}, httpapi.NewError(http.StatusConflict, CodeNumberClaimed, "your team already holds this number").
				WithDetails(map[string]any{"phone_number_id": holder.ID})
		}
		return Number{}, httpapi.NewError(http.StatusConflict, CodeNumberTaken, "another team holds this number")
	} else if !errors.Is(err, errNotFound) {
		return Number{}, err
	}
	if cn.SMS {
		if err := s.routeMessaging(ctx, cn.ID); err != nil {
			return Number{}, carrierFailure(err)
		}
	}
	if cn.Voice {
		if err := s.routeVoice(ctx, cn.ID); err != nil {
			return Number{}, carrierFailure(err)
		}
	}
	now := db.Now()
	n := Number{ID: uuid.Must(uuid.NewV7()).String(), PhoneNumber: cn.PhoneNumber, Provider: ProviderTelnyx,
		ProviderNumberID: cn.ID, Status: StatusActive, Capabilities: Capabilities{SMS: cn.SMS, Voice: cn.Voice},
		VoiceAgentID: in.VoiceAgentID, Label: trimPtr(in.Label), CreatedAt: now, UpdatedAt: now, teamID: teamID}
	if !cn.Active {
		n.Status = StatusMissing
	}
	if err := insertNumber(ctx, s.db.W, n); err != nil {
		if db.IsUniqueViolation(err) {
			return Number{}, httpapi.NewError(http.StatusConflict, CodeNumberTaken, "another team holds this number")
		}
		return Number{}, err
	}
	return n, nil
}

// routeMessaging puts a carrier number on Peak Voice's messaging profile,
// creating the profile once per account.
func (s *Service) routeMessaging(ctx context.Context, carrierNumberID string) error {
	const resource = "messaging_profile"
	existing, err := carrierResource(ctx, s.db.R, resource)
	if err != nil && !errors.Is(err, errNotFound) {
		return err
	}
	id, err := s.cfg.Inventory.EnsureMessagingProfile(ctx, existing, "Peak Voice", s.cfg.MessagingWebhookURL)
	if err != nil {
		return err
	}
	if id != existing {
		if err := putCarrierResource(ctx, s.db.W, resource, id); err != nil {
			return err
		}
	}
	return s.cfg.Inventory.AssignMessagingProfile(ctx, carrierNumberID, id)
}

// routeVoice points a carrier number's calls at Peak Voice's inbound gate,
// creating the gate's voice application once per account.
func (s *Service) routeVoice(ctx context.Context, carrierNumberID string) error {
	if s.cfg.VoiceGateURL == "" {
		return nil
	}
	id, err := s.voiceApp(ctx)
	if err != nil {
		return err
	}
	return s.cfg.Inventory.RouteVoice(ctx, carrierNumberID, id)
}

func (s *Service) voiceApp(ctx context.Context) (string, error) {
	const resource = "voice_gate_app"
	existing, err := carrierResource(ctx, s.db.R, resource)
	if err != nil && !errors.Is(err, errNotFound) {
		return "", err
	}
	id, err := s.cfg.Inventory.EnsureVoiceApp(ctx, existing, "Peak Voice inbound gate", s.cfg.VoiceGateURL, s.cfg.CallStatusURL)
	if err != nil {
		return "", err
	}
	if id != existing {
		if err := putCarrierResource(ctx, s.db.W, resource, id); err != nil {
			return "", err
		}
	}
	return id, nil
}

// checkBinding enforces the binding rules for a voice_agent_id.
func (s *Service) checkBinding(ctx context.Context, teamID string, agentID *string) error {
	if agentID == nil {
		return nil
	}
	if s.cfg.Agents == nil {
		return httpapi.NewError(http.StatusNotFound, CodeAgentNotFound, "no such agent in your team")
	}
	info, err := s.cfg.Agents.ResolveAgent(ctx, teamID, *agentID)
	if errors.Is(err, ErrAgentNotFound) {
		return httpapi.NewError(http.StatusNotFound, CodeAgentNotFound, "no such agent in your team")
	}
	if err != nil {
		return err
	}
	if info.Provider != ProviderTelnyx {
		return httpapi.NewError(http.StatusConflict, CodeProviderMismatch,
			fmt.Sprintf("the agent runs on %q but this number's line is %q; use an agent whose default_voice_provider is telnyx", info.Provider, ProviderTelnyx))
	}
	return nil
}

// Patch changes a number's label, status or binding. A nil field is left
// alone; ClearAgent unbinds.
type Patch struct {
	Label        *string
	Status       *string
	ClearLabel   bool
	VoiceAgentID *string
	ClearAgent   bool
}

// Update applies p to one of the team's numbers.
func (s *Service) Update(ctx context.Context, teamID, id string, p Patch) (Number, error) {
	if err := s.checkBinding(ctx, teamID, p.VoiceAgentID); err != nil {
		return Number{}, err
	}
	var out Number
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		n, err := numberByID(ctx, tx, teamID, id)
		if err != nil {
			return err
		}
		if p.ClearLabel {
			n.Label = nil
		} else if p.Label != nil {
			n.Label = trimPtr(p.Label)
		}
		if p.Status != nil {
			if n.Status == StatusMissing && *p.Status == StatusActive {
				return httpapi.NewError(http.StatusConflict, "phone_number_missing_on_carrier",
					"the carrier account no longer has this number; it cannot be activated")
			}
			n.Status = *p.Status
		}
		if p.ClearAgent {
			n.VoiceAgentID = nil
		} else if p.VoiceAgentID != nil {
			n.VoiceAgentID = p.VoiceAgentID
		}
		n.UpdatedAt = db.Now()
		out = n
		return updateNumber(ctx, tx, n)
	})
	return out, err
}

// Get returns one of the team's numbers.
func (s *Service) Get(ctx context.Context, teamID, id string) (Number, error) {
	return numberByID(ctx, s.db.R, teamID, id)
}

// Release gives a number back: the team no longer holds it.
func (s *Service) Release(ctx context.Context, teamID, id string) error {
	ok, err := deleteNumber(ctx, s.db.W, teamID, id)
	if err == nil && !ok {
		return errNotFound
	}
	return err
}

// OwnerOf returns the team's number record for an E.164 number, whichever
// team holds it.
func (s *Service) OwnerOf(ctx context.Context, e164 string) (Number, bool, error) {
	n, err := numberByE164(ctx, s.db.R, e164)
	if errors.Is(err, errNotFound) {
		return Number{}, false, nil
	}
	return n, err == nil, err
}

// Sender errors, for the messaging domain.
const (
	CodeSenderNotFound   = "sender_not_found"
	CodeSenderInactive   = "sender_inactive"
	CodeSenderNoSMS      = "sender_not_sms_capable"
	CodeSenderIdentifier = "invalid_sender"
)

// SMSSender resolves the sender of a message: exactly one of an E.164
// number or a phone-number id, held by the team, active and SMS-capable.
func (s *Service) SMSSender(ctx context.Context, q db.Querier, teamID, fromNumber, phoneNumberID string) (Number, error) {
	if (fromNumber == "") == (phoneNumberID == "") {
		return Number{}, httpapi.NewError(http.StatusUnprocessableEntity, CodeSenderIdentifier,
			"give exactly one of from_number and phone_number_id")
	}
	var n Number
	var err error
	if phoneNumberID != "" {
		n, err = numberByID(ctx, q, teamID, phoneNumberID)
	} else {
		e164, perr := phonenum.E164(fromNumber)
		if perr != nil {
			return Number{}, httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidNumber, phonenum.Describe("from_number", perr))
		}
		n, err = numberByE164(ctx, q, e164)
		if err == nil && n.teamID != teamID {
			err = errNotFound
		}
	}
	if errors.Is(err, errNotFound) {
		return Number{}, httpapi.NewError(http.StatusNotFound, CodeSenderNotFound, "the sender is not a phone number of your team")
	}
	if err != nil {
		return Number{}, err
	}
	if n.Status != StatusActive {
		return Number{}, httpapi.NewError(http.StatusConflict, CodeSenderInactive, "the sender number is "+n.Status)
	}
	if !n.Capabilities.SMS {
		return Number{}, httpapi.NewError(http.StatusConflict, CodeSenderNoSMS, "the sender number cannot send SMS")
	}
	return n, nil
}

func trimPtr(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	return &t
}

// BoundTo lists the team's numbers bound to an agent, oldest first: the
// lines an agent's outbound calls may use.
func (s *Service) BoundTo(ctx context.Context, teamID, agentID string) ([]Number, error) {
	ns, _, err := listNumbers(ctx, s.db.R, teamID, Filter{VoiceAgentID: agentID}, 1000, 0)
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(ns)-1; i < j; i, j = i+1, j-1 {
		ns[i], ns[j] = ns[j], ns[i]
	}
	return ns, nil
}

// ByE164 returns the team's number with this E.164 form, or an error for
// which IsNotFound holds.
func (s *Service) ByE164(ctx context.Context, teamID, e164 string) (Number, error) {
	n, err := numberByE164(ctx, s.db.R, e164)
	if err == nil && n.teamID != teamID {
		err = errNotFound
	}
	return n, err
}

// IsNotFound reports whether err means the team has no such number.
func IsNotFound(err error) bool { return errors.Is(err, errNotFound) }

// UnbindAgent clears an agent from every number of the team, inside the
// caller's transaction (used when the agent is deleted).
func UnbindAgent(ctx context.Context, tx *sql.Tx, teamID, agentID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE phone_numbers SET voice_agent_id = NULL, updated_at = $1
		WHERE team_id = $2 AND voice_agent_id = $3`, db.Now(), teamID, agentID)
	return err
}

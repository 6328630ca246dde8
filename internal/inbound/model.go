package inbound

import (
	"encoding/json"
	"time"
)

// Session statuses. A ready session expires on time by itself; an operator
// may release it; DELETE marks it deleted.
const (
	StatusReady    = "ready"
	StatusExpired  = "expired"
	StatusReleased = "released"
	StatusDeleted  = "deleted"
)

// DefaultCallbackWindow is how long a session waits for calls by default.
const DefaultCallbackWindow = 3600

// Session is an inbound callback session.
type Session struct {
	ID                    string           `json:"id"`
	PhoneNumberID         string           `json:"phone_number_id"`
	AgentID               string           `json:"agent_id"`
	Status                string           `json:"status" enum:"ready,expired,released,deleted" doc:"ready: taking calls; expired: its window ended; released: an operator ended it; deleted."`
	ExpiresAt             time.Time        `json:"expires_at"`
	CallbackWindowSeconds int              `json:"callback_window_seconds"`
	AllowedCallerNumber   *string          `json:"allowed_caller_number" doc:"When set, calls from other numbers are rejected at the gate."`
	ContextVariables      map[string]any   `json:"context_variables" doc:"Returned on every dynamic-variables request for this session, whoever calls. Keep caller-specific facts on callback targets."`
	WebhookURL            *string          `json:"webhook_url"`
	ExternalSessionID     *string          `json:"external_session_id" doc:"Your own id for the session, to find it by."`
	CallbackTargets       []Target         `json:"callback_targets"`
	ExpectedCallers       []ExpectedCaller `json:"expected_callers"`
	CreatedAt             time.Time        `json:"created_at"`
	UpdatedAt             time.Time        `json:"updated_at"`

	teamID string
}

// effective is the status as of now: a ready session past its expiry is
// expired even before the sweeper writes it down.
func (s Session) effective(now time.Time) string {
	if s.Status == StatusReady && !s.ExpiresAt.After(now) {
		return StatusExpired
	}
	return s.Status
}

// Target is a callback target: a caller the session expects, with what to
// recognise them by and the context to give the agent when they call.
type Target struct {
	ID                            string         `json:"id"`
	SessionID                     string         `json:"session_id"`
	Label                         *string        `json:"label"`
	OrganizationName              *string        `json:"organization_name"`
	ContactName                   *string        `json:"contact_name" doc:"Matched case-insensitively against the name the caller gives, word by word."`
	KnownPhoneNumbers             []string       `json:"known_phone_numbers" doc:"E.164; matched exactly against the caller's number."`
	Aliases                       []string       `json:"aliases" doc:"Matched case-insensitively as substrings of what the caller says."`
	MatchHints                    map[string]any `json:"match_hints" doc:"Free-form cues; text values are compared with the caller's name and number."`
	ContextVariables              map[string]any `json:"context_variables" doc:"Given to the agent only when this target matches."`
	Priority                      int            `json:"priority" doc:"Higher wins when several targets match by the same rule."`
	SuggestedHandoffTargetAgentID *string        `json:"suggested_handoff_target_agent_id"`
	CreatedAt                     time.Time      `json:"created_at"`
	UpdatedAt                     time.Time      `json:"updated_at"`
	// expectedCaller marks an expected caller taking part in matching as
	// a target (see candidatesOf).
	expectedCaller bool
}

// ExpectedCaller is a number the session expects a call from. Expected
// callers pass the gate when allowed_caller_number is set, and take part
// in matching like a callback target with that one number, their name and
// label, and no context of their own.
type ExpectedCaller struct {
	ID          string    `json:"id"`
	SessionID   string    `json:"session_id"`
	PhoneNumber string    `json:"phone_number" doc:"E.164."`
	ContactName *string   `json:"contact_name"`
	Label       *string   `json:"label"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func fromJSON[T any](s string, zero T) T {
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return zero
	}
	return v
}

// eventData adds the id of what matched to a session event's data: a
// callback target's, or an expected caller's.
func (t Target) eventData(data map[string]any) map[string]any {
	if t.expectedCaller {
		data["expected_caller_id"] = t.ID
	} else {
		data["callback_target_id"] = t.ID
	}
	return data
}

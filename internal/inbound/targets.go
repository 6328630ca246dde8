package inbound

import (
	"context"
	"database/sql"

	"github.com/google/uuid"

	"github.com/peakvoice/peakvoice/internal/db"
)

// TargetFields are the writable fields of a callback target. For a patch,
// Set names the fields present in the request.
type TargetFields struct {
	Label                         *string
	OrganizationName              *string
	ContactName                   *string
	KnownPhoneNumbers             []string
	Aliases                       []string
	MatchHints                    map[string]any
	ContextVariables              map[string]any
	Priority                      *int
	SuggestedHandoffTargetAgentID *string
	Set                           map[string]bool
}

func (f TargetFields) has(name string) bool { return f.Set == nil || f.Set[name] }

// apply writes f onto t, normalizing numbers and checking the handoff agent.
func (s *Service) apply(ctx context.Context, teamID string, t *Target, f TargetFields) error {
	if f.has("label") {
		t.Label = trimmed(f.Label)
	}
	if f.has("organization_name") {
		t.OrganizationName = trimmed(f.OrganizationName)
	}
	if f.has("contact_name") {
		t.ContactName = trimmed(f.ContactName)
	}
	if f.has("known_phone_numbers") {
		nums, err := normalizeNumbers("known_phone_numbers", f.KnownPhoneNumbers)
		if err != nil {
			return err
		}
		t.KnownPhoneNumbers = nums
	}
	if f.has("aliases") {
		t.Aliases = append([]string{}, f.Aliases...)
	}
	if f.has("match_hints") {
		t.MatchHints = orEmpty(f.MatchHints)
	}
	if f.has("context_variables") {
		t.ContextVariables = orEmpty(f.ContextVariables)
	}
	if f.has("priority") && f.Priority != nil {
		t.Priority = *f.Priority
	}
	if f.has("suggested_handoff_target_agent_id") {
		t.SuggestedHandoffTargetAgentID = f.SuggestedHandoffTargetAgentID
		if id := f.SuggestedHandoffTargetAgentID; id != nil {
			if err := s.checkAgent(ctx, teamID, "suggested_handoff_target_agent_id", *id); err != nil {
				return err
			}
		}
	}
	return nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// AddTarget adds a callback target to a session.
func (s *Service) AddTarget(ctx context.Context, teamID, sessionID string, f TargetFields) (Target, error) {
	at := db.Now()
	t := Target{ID: uuid.Must(uuid.NewV7()).String(), SessionID: sessionID, KnownPhoneNumbers: []string{}, Aliases: []string{},
		MatchHints: map[string]any{}, ContextVariables: map[string]any{}, CreatedAt: at, UpdatedAt: at}
	f.Set = nil // every field of a new target is taken as given
	if err := s.apply(ctx, teamID, &t, f); err != nil {
		return Target{}, err
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.openSession(ctx, tx, teamID, sessionID); err != nil {
			return err
		}
		return upsertTarget(ctx, tx, teamID, t)
	})
	return t, err
}

// PatchTarget changes the fields present in f.
func (s *Service) PatchTarget(ctx context.Context, teamID, sessionID, id string, f TargetFields) (Target, error) {
	var t Target
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.openSession(ctx, tx, teamID, sessionID); err != nil {
			return err
		}
		var err error
		if t, err = targetByID(ctx, tx, sessionID, id); err != nil {
			return err
		}
		if err := s.apply(ctx, teamID, &t, f); err != nil {
			return err
		}
		t.UpdatedAt = db.Now()
		return upsertTarget(ctx, tx, teamID, t)
	})
	return t, err
}

// DeleteTarget removes a target.
func (s *Service) DeleteTarget(ctx context.Context, teamID, sessionID, id string) error {
	return s.removeRow(ctx, teamID, sessionID, "callback_targets", id, "callback target")
}

func (s *Service) removeRow(ctx context.Context, teamID, sessionID, table, id, what string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := sessionByID(ctx, tx, teamID, sessionID); err != nil {
			return err
		}
		ok, err := deleteRow(ctx, tx, table, sessionID, id)
		if err == nil && !ok {
			return notFound(what)
		}
		return err
	})
}

// CallerFields are the writable fields of an expected caller.
type CallerFields struct {
	PhoneNumber *string
	ContactName *string
	Label       *string
	Set         map[string]bool
}

// AddCaller adds an expected caller to a session.
func (s *Service) AddCaller(ctx context.Context, teamID, sessionID string, f CallerFields) (ExpectedCaller, error) {
	at := db.Now()
	c := ExpectedCaller{ID: uuid.Must(uuid.NewV7()).String(), SessionID: sessionID, CreatedAt: at, UpdatedAt: at}
	f.Set = nil
	if err := applyCaller(&c, f); err != nil {
		return ExpectedCaller{}, err
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.openSession(ctx, tx, teamID, sessionID); err != nil {
			return err
		}
		return upsertCaller(ctx, tx, teamID, c)
	})
	return c, err
}

func applyCaller(c *ExpectedCaller, f CallerFields) error {
	has := func(n string) bool { return f.Set == nil || f.Set[n] }
	if has("phone_number") && f.PhoneNumber != nil {
		nums, err := normalizeNumbers("phone_number", []string{*f.PhoneNumber})
		if err != nil {
			return err
		}
		c.PhoneNumber = nums[0]
	}
	if has("contact_name") {
		c.ContactName = trimmed(f.ContactName)
	}
	if has("label") {
		c.Label = trimmed(f.Label)
	}
	return nil
}

// PatchCaller changes the fields present in f.
func (s *Service) PatchCaller(ctx context.Context, teamID, sessionID, id string, f CallerFields) (ExpectedCaller, error) {
	var c ExpectedCaller
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.openSession(ctx, tx, teamID, sessionID); err != nil {
			return err
		}
		var err error
		if c, err = callerByID(ctx, tx, sessionID, id); err != nil {
			return err
		}
		if err := applyCaller(&c, f); err != nil {
			return err
		}
		c.UpdatedAt = db.Now()
		return upsertCaller(ctx, tx, teamID, c)
	})
	return c, err
}

// DeleteCaller removes an expected caller.
func (s *Service) DeleteCaller(ctx context.Context, teamID, sessionID, id string) error {
	return s.removeRow(ctx, teamID, sessionID, "expected_callers", id, "expected caller")
}

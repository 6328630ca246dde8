package messaging

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/peakvoice/peakvoice/internal/db"
)

// StatusUpdate is the carrier's news about one of our messages.
type StatusUpdate struct {
	ProviderID  string
	Status      string // the carrier's status: queued, sending, sent, delivered, sending_failed, delivery_failed, …
	ErrorCode   string
	ErrorDetail string
	Parts       int
	At          time.Time
}

// ourStatus maps a carrier status to ours; ok is false for statuses that
// carry no news (unknown words).
func ourStatus(carrier string) (string, bool) {
	switch carrier {
	case StatusQueued, StatusSending, StatusSent, StatusDelivered:
		return carrier, true
	case "sending_failed", "delivery_failed", "delivery_unconfirmed", "expired", "failed":
		return StatusFailed, true
	}
	return "", false
}

// ApplyStatus records a carrier status event once (by event id). A status
// never moves a message backwards, and a terminal status is final, so
// duplicated and reordered events are harmless. It returns an error for
// which IsRetryLater holds when the message's send is still being recorded.
func (s *Service) ApplyStatus(ctx context.Context, eventID, eventType string, u StatusUpdate) error {
	status, ok := ourStatus(u.Status)
	if !ok {
		return nil
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		m, err := messageByProviderID(ctx, tx, u.ProviderID)
		if err == errNotFound {
			return errRetryLater
		}
		if err != nil {
			return err
		}
		fresh, err := claimEvent(ctx, tx, eventID, eventType)
		if err != nil || !fresh {
			return err
		}
		if statusRank[status] <= statusRank[m.Status] {
			return nil
		}
		at := u.At.UTC().Truncate(time.Microsecond)
		if at.IsZero() {
			at = db.Now()
		}
		m.Status, m.UpdatedAt = status, db.Now()
		if u.Parts > 0 {
			m.Segments = u.Parts
		}
		event := ""
		switch status {
		case StatusSent:
			m.SentAt, event = &at, "sms.sent"
		case StatusDelivered:
			m.DeliveredAt, event = &at, "sms.delivered"
			if m.SentAt == nil {
				m.SentAt = &at
			}
		case StatusFailed:
			m.FailedAt, event = &at, "sms.failed"
			code, detail := u.ErrorCode, u.ErrorDetail
			if code == "" {
				code = u.Status
			}
			m.ErrorCode = &code
			if detail != "" {
				m.ErrorDetail = &detail
			}
		}
		if err := updateStatus(ctx, tx, m); err != nil {
			return err
		}
		if event != "" {
			return s.emit(ctx, tx, m, event)
		}
		return nil
	})
}

// Inbound is a message the carrier received for one of the account's numbers.
type Inbound struct {
	ProviderID string
	From, To   string
	Text       string
	MediaURLs  []string
	At         time.Time
}

// Receive records an inbound message once (by event id and by the
// carrier's message id) on the team that holds the number. A message for a
// number no team holds is kept for operators rather than dropped.
func (s *Service) Receive(ctx context.Context, eventID string, in Inbound) error {
	owner, found, err := s.cfg.Numbers.OwnerOf(ctx, in.To)
	if err != nil {
		return err
	}
	at := in.At.UTC().Truncate(time.Microsecond)
	if at.IsZero() {
		at = db.Now()
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		fresh, err := claimEvent(ctx, tx, eventID, "message.received")
		if err != nil || !fresh {
			return err
		}
		if !found {
			s.log.WarnContext(ctx, "inbound SMS for a number no team holds", "to", in.To)
			return insertUnrouted(ctx, tx, uuid.NewString(), in, at)
		}
		if _, err := messageByProviderID(ctx, tx, in.ProviderID); err == nil {
			return nil // the same message under another event id
		}
		pnID := owner.ID
		media := in.MediaURLs
		if media == nil {
			media = []string{}
		}
		pid := in.ProviderID
		m := Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: Incoming, Status: StatusReceived,
			From: in.From, To: in.To, Text: in.Text, MediaURLs: media, Segments: Segments(in.Text),
			ProviderMessageID: &pid, PhoneNumberID: &pnID, CreatedAt: at, UpdatedAt: db.Now(),
			teamID: owner.TeamID(), dispatch: dispatchNone}
		if m.ConversationID, err = touchConversation(ctx, tx, m.teamID, &pnID, in.To, in.From, Incoming, in.Text, at); err != nil {
			return err
		}
		return insertMessage(ctx, tx, m)
	})
}

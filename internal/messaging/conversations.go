package messaging

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
)

// Conversation is the thread of every message between one of the team's
// numbers and one remote number.
type Conversation struct {
	ID                 string    `json:"id"`
	PhoneNumberID      *string   `json:"phone_number_id" doc:"The team's number in the thread."`
	OurNumber          string    `json:"our_number"`
	RemoteNumber       string    `json:"remote_number"`
	MessageCount       int       `json:"message_count"`
	InboundCount       int       `json:"inbound_count"`
	OutboundCount      int       `json:"outbound_count"`
	LastMessageAt      time.Time `json:"last_message_at"`
	LastMessagePreview string    `json:"last_message_preview" doc:"The start (up to 120 characters) of the latest message."`
	LastDirection      string    `json:"last_direction" enum:"inbound,outbound"`
	CreatedAt          time.Time `json:"created_at"`
}

const conversationCols = `id, phone_number_id, our_number, remote_number, message_count, inbound_count, outbound_count,
	last_message_at, last_message_preview, last_direction, created_at`

func scanConversation(row interface{ Scan(...any) error }) (Conversation, error) {
	var c Conversation
	var pn sql.NullString
	err := row.Scan(&c.ID, &pn, &c.OurNumber, &c.RemoteNumber, &c.MessageCount, &c.InboundCount, &c.OutboundCount,
		&c.LastMessageAt, &c.LastMessagePreview, &c.LastDirection, &c.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return c, errNotFound
	}
	c.PhoneNumberID = db.StrPtr(pn)
	c.LastMessageAt, c.CreatedAt = c.LastMessageAt.UTC(), c.CreatedAt.UTC()
	return c, err
}

func conversationByID(ctx context.Context, q db.Querier, teamID, id string) (Conversation, error) {
	return scanConversation(q.QueryRowContext(ctx, `SELECT `+conversationCols+` FROM conversations WHERE id = $1 AND team_id = $2`, id, teamID))
}

// ConversationFilter narrows the thread list.
type ConversationFilter struct {
	PhoneNumberID string
	RemoteNumber  string
	OurNumber     string
	Since         *time.Time // last activity at or after
}

func listConversations(ctx context.Context, q db.Querier, teamID string, f ConversationFilter, limit, offset int) ([]Conversation, int, error) {
	w := db.NewWhere("team_id = ?", teamID)
	w.AddIf("phone_number_id = ?", f.PhoneNumberID)
	w.AddIf("remote_number = ?", f.RemoteNumber)
	w.AddIf("our_number = ?", f.OurNumber)
	if f.Since != nil {
		w.Add("last_message_at >= ?", f.Since.UTC())
	}
	return db.Page(ctx, q, conversationCols, "conversations", w, "last_message_at DESC, id DESC", limit, offset,
		func(r db.Scanner) (Conversation, error) { return scanConversation(r) })
}

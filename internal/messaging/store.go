package messaging

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/peakvoice/peakvoice/internal/db"
)

const messageCols = `id, team_id, direction, conversation_id, phone_number_id, from_number, to_number, text, media_urls,
	segments, status, provider_message_id, error_code, error_detail, webhook_url, idempotency_key, request_hash,
	dispatch, reply_status, created_at, updated_at, sent_at, delivered_at, failed_at`

func scanMessage(row interface{ Scan(...any) error }) (Message, error) {
	var m Message
	var pn, pid, code, detail, hook, key, hash sql.NullString
	var reply sql.NullInt64
	var media string
	var sent, delivered, failed sql.NullTime
	err := row.Scan(&m.ID, &m.teamID, &m.Direction, &m.ConversationID, &pn, &m.From, &m.To, &m.Text, &media,
		&m.Segments, &m.Status, &pid, &code, &detail, &hook, &key, &hash,
		&m.dispatch, &reply, &m.CreatedAt, &m.UpdatedAt, &sent, &delivered, &failed)
	if errors.Is(err, sql.ErrNoRows) {
		return m, errNotFound
	}
	if err != nil {
		return m, err
	}
	m.PhoneNumberID, m.ProviderMessageID, m.ErrorCode = db.StrPtr(pn), db.StrPtr(pid), db.StrPtr(code)
	m.ErrorDetail, m.WebhookURL, m.IdempotencyKey = db.StrPtr(detail), db.StrPtr(hook), db.StrPtr(key)
	m.requestHash = hash.String
	if reply.Valid {
		r := int(reply.Int64)
		m.replyStatus = &r
	}
	if err := json.Unmarshal([]byte(media), &m.MediaURLs); err != nil || m.MediaURLs == nil {
		m.MediaURLs = []string{}
	}
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	m.SentAt, m.DeliveredAt, m.FailedAt = db.TimePtr(sent), db.TimePtr(delivered), db.TimePtr(failed)
	return m, nil
}

func insertMessage(ctx context.Context, q db.Querier, m Message) error {
	media, _ := json.Marshal(m.MediaURLs)
	if m.MediaURLs == nil {
		media = []byte("[]")
	}
	var hash *string
	if m.requestHash != "" {
		hash = &m.requestHash
	}
	_, err := q.ExecContext(ctx, `INSERT INTO messages (`+messageCols+`, status_rank)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
		m.ID, m.teamID, m.Direction, m.ConversationID, m.PhoneNumberID, m.From, m.To, m.Text, string(media),
		m.Segments, m.Status, m.ProviderMessageID, m.ErrorCode, m.ErrorDetail, m.WebhookURL, m.IdempotencyKey, hash,
		m.dispatch, m.replyStatus, m.CreatedAt, m.UpdatedAt, m.SentAt, m.DeliveredAt, m.FailedAt, statusRank[m.Status])
	return err
}

// finishDispatch records the outcome of the carrier call; it reports false
// when the message had already left the in-flight state.
func finishDispatch(ctx context.Context, q db.Querier, m Message) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE messages SET status = $1, status_rank = $2, provider_message_id = $3,
		segments = $4, error_code = $5, error_detail = $6, dispatch = $7, reply_status = $8, updated_at = $9, failed_at = $10
		WHERE id = $11 AND dispatch = 'in_flight'`,
		m.Status, statusRank[m.Status], m.ProviderMessageID, m.Segments, m.ErrorCode, m.ErrorDetail, m.dispatch,
		m.replyStatus, m.UpdatedAt, m.FailedAt, m.ID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// updateStatus moves a message forward; the rank guard makes a racing
// older event a no-op even between read and write.
func updateStatus(ctx context.Context, q db.Querier, m Message) error {
	_, err := q.ExecContext(ctx, `UPDATE messages SET status = $1, status_rank = $2, segments = $3, error_code = $4,
		error_detail = $5, updated_at = $6, sent_at = $7, delivered_at = $8, failed_at = $9
		WHERE id = $10 AND status_rank < $2`,
		m.Status, statusRank[m.Status], m.Segments, m.ErrorCode, m.ErrorDetail, m.UpdatedAt, m.SentAt, m.DeliveredAt, m.FailedAt, m.ID)
	return err
}

func messageByKey(ctx context.Context, q db.Querier, teamID, key string) (Message, error) {
	return scanMessage(q.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE team_id = $1 AND idempotency_key = $2`, teamID, key))
}

func messageByProviderID(ctx context.Context, q db.Querier, pid string) (Message, error) {
	return scanMessage(q.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE provider_message_id = $1`, pid))
}

func messageByID(ctx context.Context, q db.Querier, teamID, id string) (Message, error) {
	return scanMessage(q.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE id = $1 AND team_id = $2`, id, teamID))
}

func staleInFlight(ctx context.Context, q db.Querier, cutoff time.Time) ([]Message, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+messageCols+` FROM messages WHERE dispatch = 'in_flight' AND updated_at < $1
		ORDER BY created_at LIMIT 500`, cutoff)
	return db.Collect(rows, err, func(r db.Scanner) (Message, error) { return scanMessage(r) })
}

// claimEvent records a carrier event id; it reports false when the event
// was applied before.
func claimEvent(ctx context.Context, tx *sql.Tx, id, typ string) (bool, error) {
	if id == "" {
		return true, nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO carrier_events (id, event_type, received_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, id, typ, db.Now())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func insertUnrouted(ctx context.Context, tx *sql.Tx, id string, in Inbound, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO unrouted_messages (id, provider_message_id, from_number, to_number, text, received_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider_message_id) DO NOTHING`, id, in.ProviderID, in.From, in.To, in.Text, at)
	return err
}

// touchConversation finds or starts the thread of (team number, remote
// number) and records a message on it, returning the thread's id.
func touchConversation(ctx context.Context, tx *sql.Tx, teamID string, pnID *string, ours, remote, direction, text string, at time.Time) (string, error) {
	in, out := 0, 0
	if direction == Incoming {
		in = 1
	} else {
		out = 1
	}
	preview := text
	if r := []rune(preview); len(r) > 120 {
		preview = string(r[:120])
	}
	var id string
	err := tx.QueryRowContext(ctx, `INSERT INTO conversations (id, team_id, phone_number_id, our_number, remote_number,
			message_count, inbound_count, outbound_count, last_message_at, last_message_preview, last_direction, created_at)
		VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, $8)
		ON CONFLICT (team_id, our_number, remote_number) DO UPDATE SET
			message_count = conversations.message_count + 1,
			inbound_count = conversations.inbound_count + excluded.inbound_count,
			outbound_count = conversations.outbound_count + excluded.outbound_count,
			phone_number_id = excluded.phone_number_id,
			last_message_at = CASE WHEN excluded.last_message_at >= conversations.last_message_at THEN excluded.last_message_at ELSE conversations.last_message_at END,
			last_message_preview = CASE WHEN excluded.last_message_at >= conversations.last_message_at THEN excluded.last_message_preview ELSE conversations.last_message_preview END,
			last_direction = CASE WHEN excluded.last_message_at >= conversations.last_message_at THEN excluded.last_direction ELSE conversations.last_direction END
		RETURNING id`,
		uuid.Must(uuid.NewV7()).String(), teamID, pnID, ours, remote, in, out, at, preview, direction).Scan(&id)
	return id, err
}

// MessageFilter narrows message listings.
type MessageFilter struct {
	Direction      string
	Status         string
	FromNumber     string
	ToNumber       string
	PhoneNumberID  string
	ConversationID string
	Since, Until   *time.Time
	Oldest         bool // chronological instead of newest first
}

func listMessages(ctx context.Context, q db.Querier, teamID string, f MessageFilter, limit, offset int) ([]Message, int, error) {
	w := db.NewWhere("team_id = ?", teamID)
	w.AddIf("direction = ?", f.Direction)
	w.AddIf("status = ?", f.Status)
	w.AddIf("from_number = ?", f.FromNumber)
	w.AddIf("to_number = ?", f.ToNumber)
	w.AddIf("phone_number_id = ?", f.PhoneNumberID)
	w.AddIf("conversation_id = ?", f.ConversationID)
	if f.Since != nil {
		w.Add("created_at >= ?", f.Since.UTC())
	}
	if f.Until != nil {
		w.Add("created_at < ?", f.Until.UTC())
	}
	order := "created_at DESC, id DESC"
	if f.Oldest {
		order = "created_at ASC, id ASC"
	}
	return db.Page(ctx, q, messageCols, "messages", w, order, limit, offset,
		func(r db.Scanner) (Message, error) { return scanMessage(r) })
}

package calls

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/webhooks"
)

// Event types of the per-call log (and of the stream).
const (
	EventStatus       = "call.status"
	EventResultReady  = "call.result_ready"
	EventResultFailed = "call.result_failed"
)

// CallEvent is one entry of a call's log, numbered from 1.
type CallEvent struct {
	Seq    int             `json:"seq"`
	Type   string          `json:"type" enum:"call.status,call.result_ready,call.result_failed"`
	CallID string          `json:"call_id"`
	Status string          `json:"status" doc:"The call's status after this event."`
	At     time.Time       `json:"at"`
	Data   json.RawMessage `json:"data"`
}

// appendEvent adds an entry to a call's log inside tx. The caller holds
// the call's row lock (lockCall), so numbers never collide.
func appendEvent(ctx context.Context, tx *sql.Tx, c *Call, typ string, data any) error {
	c.eventSeq++
	if _, err := tx.ExecContext(ctx, `UPDATE calls SET event_seq = $1 WHERE id = $2`, c.eventSeq, c.ID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO call_events (call_id, seq, event_type, status, data, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, c.ID, c.eventSeq, typ, c.Status, jsonText(data), db.Now())
	return err
}

// eventsAfter returns a call's log entries numbered above seq, in order.
func eventsAfter(ctx context.Context, q db.Querier, callID string, seq, limit int) ([]CallEvent, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, event_type, status, data, created_at FROM call_events
		WHERE call_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, callID, seq, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CallEvent
	for rows.Next() {
		e := CallEvent{CallID: callID}
		var data string
		if err := rows.Scan(&e.Seq, &e.Type, &e.Status, &data, &e.At); err != nil {
			return nil, err
		}
		e.At, e.Data = e.At.UTC(), json.RawMessage(data)
		out = append(out, e)
	}
	return out, rows.Err()
}

// statusEvent is the log entry of a status change.
func statusEvent(c Call) map[string]any {
	return map[string]any{"status": c.Status, "answered_by": c.AnsweredBy, "hangup_cause": c.HangupCause,
		"hangup_source": c.HangupSource, "duration_seconds": c.DurationSeconds, "error_code": c.ErrorCode}
}

// webhookData is the data of the call's outgoing webhook events.
func webhookData(c Call) map[string]any {
	d := map[string]any{"call_id": c.ID, "agent_id": c.AgentID, "direction": c.Direction, "status": c.Status,
		"phone_number_from": c.PhoneNumberFrom, "phone_number_to": c.PhoneNumberTo, "provider_call_id": c.ProviderCallID,
		"answered_by": c.AnsweredBy, "hangup_cause": c.HangupCause, "hangup_source": c.HangupSource,
		"duration_seconds": c.DurationSeconds, "created_at": c.CreatedAt, "answered_at": c.AnsweredAt, "ended_at": c.EndedAt}
	if c.ErrorCode != nil {
		d["error_code"] = *c.ErrorCode
	}
	if c.ErrorDetail != nil {
		d["error_detail"] = *c.ErrorDetail
	}
	return d
}

// emit sends an event to the call's webhook_url, if it has one, in tx.
func (s *Service) emit(ctx context.Context, tx *sql.Tx, c Call, typ string, data map[string]any) error {
	if c.WebhookURL == nil || s.cfg.Webhooks == nil {
		return nil
	}
	_, err := s.cfg.Webhooks.Emit(ctx, tx, webhooks.NewEvent{TeamID: c.teamID, Type: typ, URL: *c.WebhookURL, Data: data})
	return err
}

// transition records a move from old to c.Status: one log entry, and the
// lifecycle webhooks the move crosses, so that a consumer sees initiated
// before answered before completed even when the carrier's events were
// reordered or some were skipped. Terminal calls that were answered get a
// result assembled.
func (s *Service) transition(ctx context.Context, tx *sql.Tx, old string, c *Call) error {
	if err := appendEvent(ctx, tx, c, EventStatus, statusEvent(*c)); err != nil {
		return err
	}
	from, to := statusRank[old], statusRank[c.Status]
	var hooks []string
	if from < statusRank[StatusInitiated] && to >= statusRank[StatusInitiated] && c.ProviderCallID != nil {
		hooks = append(hooks, "call.initiated")
	}
	if from < statusRank[StatusInProgress] && (c.Status == StatusInProgress || (to == terminalRank && c.AnsweredAt != nil)) {
		hooks = append(hooks, "call.answered")
	}
	if to == terminalRank {
		if c.Status == StatusCompleted {
			hooks = append(hooks, "call.completed")
		} else {
			hooks = append(hooks, "call.failed")
		}
	}
	for _, h := range hooks {
		if err := s.emit(ctx, tx, *c, h, webhookData(*c)); err != nil {
			return err
		}
	}
	return nil
}

// tx runs fn in a transaction and, once it commits, wakes the streams of
// the calls fn touched: this process's directly, other replicas' through
// PostgreSQL notifications sent with the commit.
func (s *Service) tx(ctx context.Context, fn func(tx *sql.Tx, touched func(callID string)) error) error {
	var ids []string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		ids = ids[:0]
		if err := fn(tx, func(id string) { ids = append(ids, id) }); err != nil {
			return err
		}
		// Other replicas hear of the change when it commits.
		return s.publishEvents(ctx, tx, ids)
	})
	if err == nil {
		for _, id := range ids {
			s.broker.notify(id)
		}
	}
	return err
}

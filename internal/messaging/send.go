package messaging

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/carriererr"
	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/phonenum"
	"github.com/peakvoice/peakvoice/internal/webhooks"
)

// SendInput is a send request.
type SendInput struct {
	To             string
	Text           string
	IdempotencyKey string
	FromNumber     string
	PhoneNumberID  string
	MediaURLs      []string
	WebhookURL     string
}

// normalized is a send request after validation, in canonical form; its
// hash decides whether a repeated idempotency key carries the same request.
type normalized struct {
	To            string   `json:"to"`
	Text          string   `json:"text"`
	FromNumber    string   `json:"from_number,omitempty"`
	PhoneNumberID string   `json:"phone_number_id,omitempty"`
	MediaURLs     []string `json:"media_urls,omitempty"`
	WebhookURL    string   `json:"webhook_url,omitempty"`
}

func (n normalized) hash() string {
	b, _ := json.Marshal(n)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// normalize checks the parts of a request that need no database.
func (s *Service) normalize(in SendInput) (normalized, error) {
	to, err := phonenum.E164(in.To)
	if err != nil {
		return normalized{}, httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidPhoneNumber, phonenum.Describe("to", err)).
			WithDetails(map[string]any{"field": "to", "reason": phonenum.Reason(err)})
	}
	n := normalized{To: to, Text: in.Text, PhoneNumberID: in.PhoneNumberID, MediaURLs: in.MediaURLs, WebhookURL: in.WebhookURL}
	if in.FromNumber != "" {
		from, err := phonenum.E164(in.FromNumber)
		if err != nil {
			return normalized{}, httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidPhoneNumber, phonenum.Describe("from_number", err)).
				WithDetails(map[string]any{"field": "from_number", "reason": phonenum.Reason(err)})
		}
		n.FromNumber = from
	}
	for i, u := range in.MediaURLs {
		// Media is fetched by the carrier, not by us: public http(s) only.
		if err := webhooks.ValidateURL(u, false); err != nil {
			return normalized{}, httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidMediaURL,
				fmt.Sprintf("media_urls[%d] %s", i, err)).WithDetails(map[string]any{"field": fmt.Sprintf("media_urls[%d]", i)})
		}
	}
	if in.WebhookURL != "" && s.cfg.Webhooks != nil {
		if err := s.cfg.Webhooks.CheckURL("webhook_url", in.WebhookURL); err != nil {
			return normalized{}, err
		}
	}
	return n, nil
}

// Send records a message and hands it to the carrier exactly once per
// (team, idempotency key). It reports whether the answer is a replay of an
// earlier request with the same key.
func (s *Service) Send(ctx context.Context, teamID string, in SendInput) (Message, bool, error) {
	n, err := s.normalize(in)
	if err != nil {
		return Message{}, false, err
	}
	hash := n.hash()
	if m, err := messageByKey(ctx, s.db.R, teamID, in.IdempotencyKey); err == nil {
		return s.replay(m, hash)
	} else if !errors.Is(err, errNotFound) {
		return Message{}, false, err
	}

	m, err := s.record(ctx, teamID, in.IdempotencyKey, hash, n)
	if db.IsUniqueViolation(err) {
		// Another request with the same key got there first.
		if m, err := messageByKey(ctx, s.db.W, teamID, in.IdempotencyKey); err == nil {
			return s.replay(m, hash)
		}
	}
	if err != nil {
		return Message{}, false, err
	}
	m, err = s.dispatch(ctx, m)
	if err != nil {
		return Message{}, false, err
	}
	if code := replyFor(m); code >= 400 {
		return m, false, replyError(m)
	}
	return m, false, nil
}

// replay answers a request whose key was used before: the stored outcome
// when the body matches, a conflict when it does not or while the first
// request is still with the carrier.
func (s *Service) replay(m Message, hash string) (Message, bool, error) {
	if m.requestHash != hash {
		return Message{}, false, httpapi.NewError(http.StatusUnprocessableEntity, CodeIdempotencyMismatch,
			"this idempotency_key was used with a different request; use a new key for a new message").
			WithDetails(map[string]any{"message_id": m.ID})
	}
	if m.dispatch == dispatchInFlight {
		return Message{}, false, httpapi.NewError(http.StatusConflict, CodeInProgress,
			"a request with this idempotency_key is still being sent; retry shortly").
			WithHeader("Retry-After", "1").WithDetails(map[string]any{"message_id": m.ID})
	}
	if replyFor(m) >= 400 {
		return m, true, replyError(m)
	}
	return m, true, nil
}

// replyError is the error a failed send answered with (and answers again).
func replyError(m Message) *httpapi.Error {
	detail := ""
	if m.ErrorDetail != nil {
		detail = ": " + *m.ErrorDetail
	}
	var e *httpapi.Error
	switch {
	case m.ErrorCode != nil && *m.ErrorCode == ErrorCarrierRejected:
		e = httpapi.NewError(replyFor(m), CodeCarrierRejected, "the carrier refused the message"+detail)
	case m.ErrorCode != nil && *m.ErrorCode == ErrorOutcomeUnknown:
		e = httpapi.NewError(replyFor(m), CodeTelephonyProvider,
			"the server stopped while handing this message to the carrier; it was not sent again and may or may not have been delivered")
	default:
		e = httpapi.NewError(replyFor(m), CodeTelephonyProvider, "the carrier could not take the message"+detail+
			"; it was not sent. Retry with a new idempotency_key")
	}
	return e.WithDetails(map[string]any{"message_id": m.ID, "status": m.Status})
}

// record stores the message before anything is sent, with the sweeper as a
// backstop should this process die during the carrier call.
func (s *Service) record(ctx context.Context, teamID, key, hash string, n normalized) (Message, error) {
	var m Message
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		sender, err := s.cfg.Numbers.SMSSender(ctx, tx, teamID, n.FromNumber, n.PhoneNumberID)
		if err != nil {
			return err
		}
		now := db.Now()
		pnID := sender.ID
		m = Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: Outgoing, Status: StatusQueued,
			From: sender.PhoneNumber, To: n.To, Text: n.Text, MediaURLs: n.MediaURLs, Segments: Segments(n.Text),
			PhoneNumberID: &pnID, IdempotencyKey: &key, CreatedAt: now, UpdatedAt: now,
			teamID: teamID, dispatch: dispatchInFlight, requestHash: hash}
		if n.WebhookURL != "" {
			m.WebhookURL = &n.WebhookURL
		}
		if m.ConversationID, err = touchConversation(ctx, tx, teamID, &pnID, m.From, m.To, Outgoing, m.Text, now); err != nil {
			return err
		}
		return insertMessage(ctx, tx, m)
	})
	return m, err
}

// dispatch makes the one carrier call for a recorded message and records
// its outcome.
func (s *Service) dispatch(ctx context.Context, m Message) (Message, error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.SendTimeout)
	defer cancel()
	acc, sendErr := s.cfg.Carrier.SendMessage(sctx, Outbound{From: m.From, To: m.To, Text: m.Text,
		MediaURLs: m.MediaURLs, WebhookURL: s.cfg.CarrierWebhookURL})
	now := db.Now()
	m.UpdatedAt = now
	m.dispatch = dispatchDone
	var event string
	if sendErr == nil {
		m.ProviderMessageID = &acc.ProviderID
		if acc.Parts > 0 {
			m.Segments = acc.Parts
		}
		if r, ok := statusRank[acc.Status]; ok && r > statusRank[m.Status] && acc.Status != StatusFailed {
			m.Status = acc.Status
		}
	} else {
		status, code := http.StatusBadGateway, ErrorCarrierUnavailable
		if errors.Is(sendErr, carriererr.ErrRejected) {
			status, code = http.StatusUnprocessableEntity, ErrorCarrierRejected
		}
		s.log.WarnContext(ctx, "sms send failed at the carrier", "message_id", m.ID, "err", sendErr)
		detail := carriererr.DetailOf(sendErr)
		m.Status, m.ErrorCode, m.FailedAt, m.replyStatus = StatusFailed, &code, &now, &status
		if detail != "" {
			m.ErrorDetail = &detail
		}
		event = "sms.failed"
	}
	err := s.db.Tx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		ok, err := finishDispatch(ctx, tx, m)
		if err != nil || !ok {
			return err
		}
		if event != "" {
			return s.emit(ctx, tx, m, event)
		}
		return nil
	})
	return m, err
}

// emit sends a message event to the message's webhook_url, if it has one.
func (s *Service) emit(ctx context.Context, tx *sql.Tx, m Message, event string) error {
	if m.WebhookURL == nil || s.cfg.Webhooks == nil {
		return nil
	}
	_, err := s.cfg.Webhooks.Emit(ctx, tx, webhooks.NewEvent{TeamID: m.teamID, Type: event, URL: *m.WebhookURL, Data: eventData(m)})
	return err
}

func eventData(m Message) map[string]any {
	d := map[string]any{"message_id": m.ID, "status": m.Status, "from": m.From, "to": m.To,
		"segments": m.Segments, "provider_message_id": m.ProviderMessageID, "conversation_id": m.ConversationID}
	if m.ErrorCode != nil {
		d["error_code"] = *m.ErrorCode
	}
	if m.ErrorDetail != nil {
		d["error_detail"] = *m.ErrorDetail
	}
	return d
}

// sweepArgs runs the sweeper: sends left in flight by a process that died
// end in a clear failed state instead of being sent again.
type sweepArgs struct{}

func (sweepArgs) Kind() string { return "sms_sweep_in_flight" }

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	n, err := w.s.SweepInFlight(ctx, time.Now().Add(-w.s.cfg.StaleAfter))
	if n > 0 {
		w.s.log.Warn("sms sends left in flight by a stopped process marked outcome_unknown", "count", n)
	}
	return err
}

// SweepInFlight marks sends that have been in flight since before cutoff as
// failed with an unknown outcome, emitting sms.failed for each.
func (s *Service) SweepInFlight(ctx context.Context, cutoff time.Time) (int, error) {
	stale, err := staleInFlight(ctx, s.db.R, cutoff.UTC())
	if err != nil {
		return 0, err
	}
	done := 0
	for _, m := range stale {
		now := db.Now()
		code, reply := ErrorOutcomeUnknown, http.StatusBadGateway
		m.Status, m.ErrorCode, m.FailedAt, m.UpdatedAt, m.replyStatus, m.dispatch = StatusFailed, &code, &now, now, &reply, dispatchUnknown
		err := s.db.Tx(ctx, func(tx *sql.Tx) error {
			ok, err := finishDispatch(ctx, tx, m)
			if err != nil || !ok {
				return err
			}
			done++
			return s.emit(ctx, tx, m, "sms.failed")
		})
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/db"
)

// Headers of every delivery. The X-Peak-Voice-* ones are the spec's; the
// webhook-* ones follow Standard Webhooks so off-the-shelf verifiers work.
const (
	HeaderSignature  = "X-Peak-Voice-Signature"
	HeaderEventType  = "X-Peak-Voice-Event-Type"
	HeaderDeliveryID = "X-Peak-Voice-Delivery-Id"
	HeaderSWID       = "webhook-id"
	HeaderSWTime     = "webhook-timestamp"
	HeaderSWSig      = "webhook-signature"
)

// Sign returns the X-Peak-Voice-Signature value for a body:
// "sha256=" + hex HMAC-SHA256 of the raw body under the signing secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// SignStandard returns the Standard Webhooks signature ("v1,<base64>") of
// id.timestamp.body. Standard verifiers take the secret as "whsec_" plus the
// base64 of its bytes.
func SignStandard(secret []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%s.%d.", id, ts)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// deliverArgs is the job that makes one attempt of one delivery round.
type deliverArgs struct {
	DeliveryID string `json:"delivery_id"`
	Round      int    `json:"round"`
}

func (deliverArgs) Kind() string { return "webhook_deliver" }

type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	s *Service
}

// Timeout leaves room for the HTTP attempt and the bookkeeping around it.
func (w *deliverWorker) Timeout(*river.Job[deliverArgs]) time.Duration {
	return w.s.cfg.Timeout + 20*time.Second
}

// Work makes the next attempt of a delivery's round. Which attempt it is
// comes from the attempt log, not from the queue's run count: a run cut
// off by a crash is rescued and run again by the queue, and then makes
// the attempt that was lost, even when that was the last one. Between
// attempts the job snoozes until the schedule's next offset, which does
// not spend the queue's attempts; those are left for rescues and for
// errors in the bookkeeping itself.
func (w *deliverWorker) Work(ctx context.Context, j *river.Job[deliverArgs]) error {
	s := w.s
	d, body, err := deliveryForAttempt(ctx, s.db.R, j.Args.DeliveryID)
	if errors.Is(err, errNotFound) {
		return river.JobCancel(fmt.Errorf("delivery %s is gone", j.Args.DeliveryID))
	}
	if err != nil {
		return err
	}
	if d.Round != j.Args.Round || d.Status == StatusSucceeded || d.Status == StatusFailed {
		return nil // superseded by a newer round, or already finished
	}
	made, err := attemptsInRound(ctx, s.db.R, d.ID, d.Round)
	if err != nil {
		return err
	}
	sched := s.cfg.Schedule
	if made >= len(sched) {
		// Every attempt is recorded. The last one sets the final status in
		// the same transaction, so this is only a guard: settle the round
		// rather than attempt beyond the schedule.
		return s.db.Tx(ctx, func(tx *sql.Tx) error { return settleRound(ctx, tx, d, StatusFailed) })
	}
	a := s.attempt(ctx, d, body)
	a.Attempt = made + 1
	last := a.Attempt >= len(sched)
	status := StatusRetrying
	var next *time.Time
	var wait time.Duration
	switch {
	case a.Succeeded:
		status = StatusSucceeded
	case last:
		status = StatusFailed
	default:
		wait = max(sched[a.Attempt]-sched[a.Attempt-1], 0)
		t := time.Now().Add(wait)
		next = &t
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		return recordAttempt(ctx, tx, d, a, status, next)
	})
	if err != nil {
		return fmt.Errorf("record attempt: %w", err)
	}
	if a.Succeeded || last {
		return nil
	}
	return river.JobSnooze(wait)
}

// Attempt is one POST of a delivery.
type Attempt struct {
	ID           string    `json:"id" doc:"The X-Peak-Voice-Delivery-Id sent with this attempt."`
	Round        int       `json:"round" doc:"1 for the original delivery, 2+ for redeliveries."`
	Attempt      int       `json:"attempt" doc:"Attempt number within the round, from 1."`
	StartedAt    time.Time `json:"started_at"`
	StatusCode   *int      `json:"status_code" doc:"The receiver's HTTP status; null when no response arrived."`
	LatencyMS    int64     `json:"latency_ms"`
	Error        string    `json:"error,omitempty" doc:"Why the attempt failed, when it did."`
	ResponseBody string    `json:"response_body,omitempty" doc:"The start of the receiver's response body (at most 1 KiB)."`
	Succeeded    bool      `json:"succeeded"`
}

const (
	maxResponseRead  = 64 << 10 // read at most this much of a response
	maxResponseStore = 1 << 10  // keep at most this much in the log
)

// attempt POSTs the stored body once and describes the outcome. A 2xx is
// success; anything else — timeouts, connection errors, 3xx (never
// followed), 4xx, 5xx — is a failure.
func (s *Service) attempt(ctx context.Context, d delivery, body []byte) Attempt {
	a := Attempt{ID: uuid.NewString(), Round: d.Round, StartedAt: db.Now()}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		a.Error = "invalid url: " + err.Error()
		return a
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "PeakVoice-Webhooks/1")
	req.Header.Set(HeaderSignature, Sign(s.cfg.Secret, body))
	req.Header.Set(HeaderEventType, d.EventType)
	req.Header.Set(HeaderDeliveryID, a.ID)
	req.Header.Set(HeaderSWID, d.EventID)
	req.Header.Set(HeaderSWTime, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSWSig, SignStandard(s.cfg.Secret, d.EventID, ts, body))
	start := time.Now()
	res, err := s.client.Do(req)
	if err != nil {
		a.LatencyMS = time.Since(start).Milliseconds()
		a.Error = describeSendError(err)
		return a
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(res.Body, maxResponseRead))
	a.LatencyMS = time.Since(start).Milliseconds()
	code := res.StatusCode
	a.StatusCode = &code
	if len(got) > maxResponseStore {
		got = got[:maxResponseStore]
	}
	a.ResponseBody = strings.ToValidUTF8(string(got), "")
	switch {
	case code >= 200 && code < 300:
		a.Succeeded = true
	case code >= 300 && code < 400:
		a.Error = fmt.Sprintf("redirect %d not followed", code)
	default:
		a.Error = fmt.Sprintf("receiver answered %d", code)
	}
	return a
}

func describeSendError(err error) string {
	var blocked *blockedError
	switch {
	case errors.As(err, &blocked):
		return blocked.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	return "request failed: " + err.Error()
}

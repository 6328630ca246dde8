// Package messaging is SMS: idempotent sends that reach the carrier at most
// once, delivery state kept current from the carrier's signed events,
// inbound messages routed to the team that holds the number, and
// conversation threads over both directions.
package messaging

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/jobs"
	"github.com/peakvoice/peakvoice/internal/numbers"
	"github.com/peakvoice/peakvoice/internal/webhooks"
)

// Outbound is a message handed to the carrier.
type Outbound struct {
	From, To, Text string
	MediaURLs      []string
	// WebhookURL receives the carrier's events for this message.
	WebhookURL string
}

// Accepted is the carrier's answer to a send.
type Accepted struct {
	ProviderID string
	Status     string // carrier status, e.g. queued
	Parts      int
}

// Carrier sends messages. Errors are classified with carriererr.
type Carrier interface {
	SendMessage(ctx context.Context, m Outbound) (Accepted, error)
}

// Config configures the service.
type Config struct {
	DB       *db.DB
	Carrier  Carrier
	Numbers  *numbers.Service
	Webhooks *webhooks.Service
	// CarrierWebhookURL is where the carrier reports on our messages.
	CarrierWebhookURL string
	// SendTimeout bounds one carrier send (default 15 s).
	SendTimeout time.Duration
	// StaleAfter is how long a send may stay in flight before the sweeper
	// declares its outcome unknown (default 2 min; must exceed SendTimeout).
	StaleAfter time.Duration
	// ReconcileAfter is how long an outbound message's state may stand
	// still before the reconciler asks the carrier about it (default
	// 10 min); ReconcileEvery is how often it looks (default 1 min). The
	// reconciler runs only when Carrier is also a StatusChecker.
	ReconcileAfter, ReconcileEvery time.Duration
	Logger                         *slog.Logger
}

// Service is the messaging domain.
type Service struct {
	cfg Config
	db  *db.DB
	log *slog.Logger
}

// New builds the service and registers its sweeper in reg.
func New(cfg Config, reg *jobs.Registry) *Service {
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 15 * time.Second
	}
	if cfg.StaleAfter <= cfg.SendTimeout {
		cfg.StaleAfter = cfg.SendTimeout + 2*time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReconcileAfter <= 0 {
		cfg.ReconcileAfter = defaultReconcileAfter
	}
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = defaultReconcileEvery
	}
	s := &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger}
	jobs.Register(reg, &sweepWorker{s: s})
	reg.Every(30*time.Second, func() river.JobArgs { return sweepArgs{} })
	if _, ok := cfg.Carrier.(StatusChecker); ok {
		jobs.Register(reg, &reconcileWorker{s: s})
		reg.Every(cfg.ReconcileEvery, func() river.JobArgs { return reconcileArgs{} })
	}
	return s
}

// Message statuses. Outbound messages move forward only, by rank:
// queued → sending → sent → delivered, or failed from any of them.
// Inbound messages are received.
const (
	StatusQueued    = "queued"
	StatusSending   = "sending"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
	StatusReceived  = "received"
)

var statusRank = map[string]int{
	StatusQueued: 1, StatusSending: 2, StatusSent: 3, StatusDelivered: 4, StatusFailed: 4, StatusReceived: 4,
}

// Directions.
const (
	Outgoing = "outbound"
	Incoming = "inbound"
)

// Dispatch states of an outbound message's single carrier call.
const (
	dispatchInFlight = "in_flight" // the carrier call may be under way
	dispatchDone     = "done"      // its outcome is recorded
	dispatchUnknown  = "unknown"   // the server stopped mid-call; never resent
	dispatchNone     = "none"      // inbound
)

// Error codes stored on failed messages (error_code) besides the carrier's.
const (
	ErrorCarrierUnavailable = "telephony_provider_error"
	ErrorCarrierRejected    = "rejected_by_carrier"
	ErrorOutcomeUnknown     = "outcome_unknown"
)

// API error codes.
const (
	CodeIdempotencyMismatch = "idempotency_key_reused"
	CodeInProgress          = "idempotent_request_in_progress"
	CodeCarrierRejected     = "sms_rejected_by_carrier"
	CodeTelephonyProvider   = "telephony_provider_error"
	CodeInvalidMediaURL     = "invalid_media_url"
	CodeInvalidPhoneNumber  = "invalid_phone_number"
)

// Message is an SMS in either direction.
type Message struct {
	ID                string     `json:"id"`
	Direction         string     `json:"direction" enum:"outbound,inbound"`
	Status            string     `json:"status" enum:"queued,sending,sent,delivered,failed,received"`
	From              string     `json:"from" doc:"E.164 sender."`
	To                string     `json:"to" doc:"E.164 recipient."`
	Text              string     `json:"text"`
	MediaURLs         []string   `json:"media_urls"`
	Segments          int        `json:"segments" doc:"SMS segments the text takes (GSM-7: 160, or 153 each when split; UCS-2: 70, or 67 each)."`
	ProviderMessageID *string    `json:"provider_message_id" doc:"The carrier's id for the message."`
	ErrorCode         *string    `json:"error_code" doc:"Why the message failed: the carrier's error code, or telephony_provider_error, rejected_by_carrier, outcome_unknown."`
	ErrorDetail       *string    `json:"error_detail"`
	ConversationID    string     `json:"conversation_id"`
	PhoneNumberID     *string    `json:"phone_number_id" doc:"The team's number the message went out from or came in to."`
	WebhookURL        *string    `json:"webhook_url"`
	IdempotencyKey    *string    `json:"idempotency_key"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
	SentAt            *time.Time `json:"sent_at"`
	DeliveredAt       *time.Time `json:"delivered_at"`
	FailedAt          *time.Time `json:"failed_at"`

	teamID      string
	dispatch    string
	replyStatus *int
	requestHash string
}

// Segments counts the SMS segments of a text: GSM-7 texts fit 160
// characters in one segment and 153 per segment when split; anything
// outside GSM-7 is sent as UCS-2, 70 and 67 (counted in UTF-16 units).
func Segments(text string) int {
	if text == "" {
		return 1
	}
	gsm, units := true, 0
	for _, r := range text {
		if gsm {
			switch {
			case isGSMBasic(r):
				units++
			case isGSMExtended(r):
				units += 2
			default:
				gsm = false
			}
		}
	}
	single, multi := 160, 153
	if !gsm {
		single, multi = 70, 67
		units = 0
		for _, r := range text {
			if utf8.RuneLen(r) == 4 {
				units += 2 // a surrogate pair
			} else {
				units++
			}
		}
	}
	if units <= single {
		return 1
	}
	return (units + multi - 1) / multi
}

const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

func isGSMBasic(r rune) bool {
	for _, c := range gsmBasic {
		if c == r {
			return true
		}
	}
	return false
}

func isGSMExtended(r rune) bool {
	switch r {
	case '^', '{', '}', '\\', '[', '~', ']', '|', '€', '\f':
		return true
	}
	return false
}

// errRetryLater tells the carrier to deliver an event again later: it
// refers to a message whose send is still being recorded.
var errRetryLater = errors.New("message not recorded yet; retry")

// IsRetryLater reports whether an event should be redelivered later.
func IsRetryLater(err error) bool { return errors.Is(err, errRetryLater) }

var errNotFound = errors.New("not found")

// replyFor is the HTTP status a send answered with, for replays.
func replyFor(m Message) int {
	if m.replyStatus != nil {
		return *m.replyStatus
	}
	return http.StatusCreated
}

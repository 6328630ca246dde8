// Package calls is outbound voice calls: a call placed by an agent is
// recorded and dialed exactly once, its state follows the carrier's signed
// call-progress events without ever moving backwards, every change is kept
// in a numbered per-call log that clients can follow live, and the
// transcript, recording and insights are assembled durably once it ends.
package calls

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/jobs"
	"github.com/peakvoice/peakvoice/internal/numbers"
	"github.com/peakvoice/peakvoice/internal/webhooks"
)

// CallAgent is what placing a call needs to know about an agent.
type CallAgent struct {
	ID              string
	Provider        string // voice runtime, e.g. telnyx
	ProviderAgentID string // the carrier assistant; empty until provisioned
	SyncStatus      string // synced when the assistant matches the agent
	Channels        []string
	Objectives      []Objective
}

// Objective is one goal of an agent's calls.
type Objective struct {
	Name        string
	Description string
}

// SyncStatusSynced is the only sync state a call may be placed in.
const SyncStatusSynced = "synced"

// Agents is what this package needs from the agents domain. CallAgent
// returns an error satisfying errors.Is(err, ErrAgentNotFound) for an agent
// the team does not have. NormalizeBrief enforces the agent's call-brief
// contract and returns the variables the assistant receives; a brief that
// misses required variables is an *httpapi.Error (400
// missing_required_call_brief_variables), passed through as is.
type Agents interface {
	CallAgent(ctx context.Context, teamID, agentID string) (CallAgent, error)
	NormalizeBrief(ctx context.Context, teamID, agentID, text string, vars map[string]string) (map[string]string, error)
}

// ErrAgentNotFound is what an Agents implementation returns for an unknown agent.
var ErrAgentNotFound = errors.New("agent not found")

// ErrVoiceRuntime marks carrier errors that came from the AI assistant
// runtime rather than from dialing (answered as voice_provider_error).
var ErrVoiceRuntime = errors.New("voice runtime")

// ErrNotReady is what Carrier.FetchResults returns while the carrier is
// still preparing a finished call's conversation or insights.
var ErrNotReady = errors.New("call artifacts not ready")

// Dial is an outbound AI call to place.
type Dial struct {
	AssistantID string
	From, To    string
	// Variables reach the assistant as dynamic variables (highest precedence).
	Variables map[string]string
	// StatusCallbackURL receives the call's progress events.
	StatusCallbackURL string
}

// Placed is the carrier's answer to a dial.
type Placed struct {
	CallControlID string
}

// Finished identifies an ended call to the carrier.
type Finished struct {
	CallControlID string
	SessionID     string
}

// Turn is one message of a transcript.
type Turn struct {
	Role string    `json:"role" enum:"user,assistant,tool"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// InsightResult is one insight the carrier produced about a conversation.
type InsightResult struct {
	ID     string
	Result string // plain text, or JSON text for schema insights
}

// Artifacts are what the carrier kept of a finished call.
type Artifacts struct {
	ConversationID string
	Transcript     []Turn
	Insights       []InsightResult
	RecordingID    string // empty when the call was not recorded
	// Handoffs are the handoff tool calls the assistants made, in order:
	// the arguments the carrier reported (usually the target's name).
	Handoffs []string
}

// Carrier places and ends calls and returns their artifacts. Errors are
// classified with carriererr; ErrVoiceRuntime marks assistant-side ones.
type Carrier interface {
	StartCall(ctx context.Context, d Dial) (Placed, error)
	Hangup(ctx context.Context, callControlID string) error
	FetchResults(ctx context.Context, f Finished) (Artifacts, error)
	// OpenRecording streams a recording's audio from a fresh carrier link.
	OpenRecording(ctx context.Context, recordingID string) (io.ReadCloser, string, error)
	// CallState says whether a dialed call is still up; found is false when
	// the carrier no longer knows it.
	CallState(ctx context.Context, callControlID string) (LiveState, bool, error)
}

// LiveState is the carrier's view of a call, for reconciling calls whose
// final status callback never arrived.
type LiveState struct {
	Alive           bool
	SessionID       string
	DurationSeconds int
}

// Limits bound how fast and how much a team may call.
type Limits struct {
	// CallsPerMinute is the sustained rate of call creation per team.
	CallsPerMinute float64
	// Burst is how many calls a team may create at once.
	Burst int
	// MaxLiveCalls caps a team's calls that have not ended.
	MaxLiveCalls int
	// Heartbeat is the interval of keep-alive comments on call streams.
	Heartbeat time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.CallsPerMinute <= 0 {
		l.CallsPerMinute = 60
	}
	if l.Burst <= 0 {
		l.Burst = 10
	}
	if l.MaxLiveCalls <= 0 {
		l.MaxLiveCalls = 20
	}
	if l.Heartbeat <= 0 {
		l.Heartbeat = 15 * time.Second
	}
	return l
}

// Config configures the service.
type Config struct {
	DB       *db.DB
	Carrier  Carrier
	Agents   Agents // may be set later with SetAgents
	Numbers  *numbers.Service
	Webhooks *webhooks.Service
	// PublicURL is this server's base URL, for recording links.
	PublicURL string
	// StatusCallbackURL is where the carrier reports call progress.
	StatusCallbackURL string
	Limits            Limits
	// DialTimeout bounds one carrier dial (default 15 s).
	DialTimeout time.Duration
	// ReconcileEvery is how often calls that stopped hearing from the
	// carrier are checked (default 30 s); StaleAfter is how long a live
	// call may go without news before it is checked (default 2 min).
	ReconcileEvery, StaleAfter time.Duration
	// Done, when closed, ends open call streams (the server is stopping).
	Done   <-chan struct{}
	Logger *slog.Logger
}

// Service is the calls domain.
type Service struct {
	cfg    Config
	db     *db.DB
	log    *slog.Logger
	agents atomic.Pointer[agentsBox]
	queue  atomic.Pointer[jobs.Queue]
	limits atomic.Pointer[Limits]
	rate   *rateLimiter
	broker *broker
	hub    *connHub // hijacked streams
	listen listener
	// rq is the read pool the hot reads use (streams, carrier look-ups);
	// SQLite connections keep their statements prepared (db.Open).
	rq db.Querier

	// Test hooks of streams: after subscribing, and each time a stream
	// has written all it read and is about to wait.
	hookSubscribed func(callID string)
	hookIdle       func(callID string, lastID int)
}

type agentsBox struct{ a Agents }

// New builds the service and registers its jobs in reg.
func New(cfg Config, reg *jobs.Registry) *Service {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 15 * time.Second
	}
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = 30 * time.Second
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger, rate: newRateLimiter(), broker: newBroker()}
	s.listen.s = s
	s.hub = newConnHub(s)
	if cfg.DB != nil {
		s.rq = cfg.DB.R
	}
	s.broker.poll, s.broker.every, s.broker.done = s.safetyPoll, s.pollInterval, cfg.Done
	s.SetLimits(cfg.Limits)
	if cfg.Agents != nil {
		s.SetAgents(cfg.Agents)
	}
	jobs.Register(reg, &dispatchWorker{s: s})
	jobs.Register(reg, &resultsWorker{s: s})
	jobs.Register(reg, &reconcileWorker{s: s})
	reg.Every(cfg.ReconcileEvery, func() river.JobArgs { return reconcileArgs{} })
	return s
}

// SetAgents plugs in the agents domain.
func (s *Service) SetAgents(a Agents) { s.agents.Store(&agentsBox{a: a}) }

// SetQueue gives the service the queue its jobs are enqueued on.
func (s *Service) SetQueue(q *jobs.Queue) { s.queue.Store(q) }

// SetLimits changes the limits; zero fields take defaults.
func (s *Service) SetLimits(l Limits) {
	l = l.withDefaults()
	s.limits.Store(&l)
}

func (s *Service) currentLimits() Limits { return *s.limits.Load() }

func (s *Service) agentsDomain() (Agents, bool) {
	b := s.agents.Load()
	if b == nil || b.a == nil {
		return nil, false
	}
	return b.a, true
}

func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	q := s.queue.Load()
	if q == nil {
		return errors.New("calls: job queue not set")
	}
	_, err := q.Enqueue(ctx, tx, args, opts)
	return err
}

// Call statuses. They move forward only, by rank; the five terminal ones
// share the top rank so that none replaces another.
const (
	StatusQueued     = "queued"
	StatusInitiated  = "initiated"
	StatusRinging    = "ringing"
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"
	StatusNoAnswer   = "no_answer"
	StatusBusy       = "busy"
	StatusFailed     = "failed"
	StatusCanceled   = "canceled"
)

// terminalRank is the rank of every status that ends a call.
const terminalRank = 5

var statusRank = map[string]int{
	StatusQueued: 1, StatusInitiated: 2, StatusRinging: 3, StatusInProgress: 4,
	StatusCompleted: terminalRank, StatusNoAnswer: terminalRank, StatusBusy: terminalRank,
	StatusFailed: terminalRank, StatusCanceled: terminalRank,
}

// Terminal reports whether a status ends a call.
func Terminal(status string) bool { return statusRank[status] == terminalRank }

// Result states of a call.
const (
	ResultNone    = "none"    // no result is expected (yet, or ever)
	ResultPending = "pending" // being assembled
	ResultReady   = "ready"
	ResultFailed  = "failed"
)

// Directions.
const (
	Outbound = "outbound"
	Inbound  = "inbound"
)

// Dispatch states of a call's single dial.
const (
	dispatchPending  = "pending"   // recorded, not dialed yet
	dispatchInFlight = "in_flight" // the dial may be under way
	dispatchDone     = "done"      // its outcome is recorded
	dispatchUnknown  = "unknown"   // the process stopped mid-dial; never redialed
)

// Error codes stored on failed calls and answered by the API.
const (
	CodeAgentNotFound       = "agent_not_found"
	CodeAgentNotSynced      = "agent_not_synced"
	CodeMissingProviderID   = "missing_provider_resource_id"
	CodeNoPhoneNumber       = "no_phone_number"
	CodePhoneNotFound       = "phone_number_not_found"
	CodeIncompatiblePhone   = "incompatible_phone"
	CodeProviderMismatch    = "phone_provider_mismatch"
	CodeInvalidPhoneNumber  = "invalid_phone_number"
	CodeRateLimited         = "rate_limited"
	CodeTooManyLiveCalls    = "concurrent_call_limit"
	CodeIdempotencyMismatch = "idempotency_key_reused"
	CodeInProgress          = "idempotent_request_in_progress"
	CodeTelephonyProvider   = "telephony_provider_error"
	CodeVoiceProvider       = "voice_provider_error"
	CodeOutcomeUnknown      = "outcome_unknown"
	CodeCallNotActive       = "call_not_active"
	CodeNoRecording         = "recording_not_available"
)

var errNotFound = errors.New("not found")

// errRetryLater tells the carrier to deliver an event again later: it
// refers to a call whose dial is still being recorded.
var errRetryLater = errors.New("call not recorded yet; retry")

// IsRetryLater reports whether a carrier event should be redelivered later.
func IsRetryLater(err error) bool { return errors.Is(err, errRetryLater) }

// replyFor is the HTTP status the create request answered with, for replays.
func replyFor(c Call) int {
	if c.replyStatus != nil {
		return *c.replyStatus
	}
	return http.StatusCreated
}

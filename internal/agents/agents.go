// Package agents owns voice agents: their settings and immutable versions,
// the carrier AI assistant that backs each one (provisioning, updates,
// durable deletion and drift reconcile), the handoff rules between agents,
// and call-brief contracts with their normalization.
//
// The carrier is reached only through the AssistantRuntime interface
// declared here; internal/carrier adapts the Telnyx client to it.
package agents

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/jobs"
)

// Config configures the service.
type Config struct {
	DB *db.DB
	// Runtime is the voice runtime assistants are provisioned on.
	Runtime AssistantRuntime
	// PublicURL is where the carrier reaches this server, without a
	// trailing slash; assistant webhooks point under it.
	PublicURL string
	// AllowPrivate lets tool URLs name loopback and private hosts
	// (development mode).
	AllowPrivate bool
	// DeleteGuard, when set, runs inside the delete transaction and may
	// refuse the delete (for example while a phone number is bound to the
	// agent); an *httpapi.Error it returns reaches the client as is.
	DeleteGuard func(ctx context.Context, tx *sql.Tx, teamID, agentID string) error
	// ToolHeaders, when set, gives the headers an agent's auto-injected
	// lookup tool sends, so the server can tell its calls from forgeries.
	ToolHeaders func(agentID string) map[string]string
	// RuntimeTimeout bounds each synchronous runtime call (default 20 s).
	RuntimeTimeout time.Duration
	// DeleteRetryCap caps the pause between attempts to delete an
	// assistant (default 10 min). Tests lower it.
	DeleteRetryCap time.Duration
	Logger         *slog.Logger
}

// Service is the agents domain.
type Service struct {
	cfg   Config
	db    *db.DB
	rt    AssistantRuntime
	queue *jobs.Queue
	log   *slog.Logger
	locks keyedMutex
}

// New builds the service and registers its assistant-deletion worker in
// reg. Give it the queue with SetQueue once the queue is built.
func New(cfg Config, reg *jobs.Registry) (*Service, error) {
	if cfg.DB == nil || cfg.Runtime == nil {
		return nil, errors.New("agents: DB and Runtime are required")
	}
	if cfg.PublicURL == "" {
		return nil, errors.New("agents: PublicURL is required (the carrier calls webhooks under it)")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.RuntimeTimeout <= 0 {
		cfg.RuntimeTimeout = 20 * time.Second
	}
	if cfg.DeleteRetryCap <= 0 {
		cfg.DeleteRetryCap = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, db: cfg.DB, rt: cfg.Runtime, log: cfg.Logger}
	jobs.Register(reg, &deleteWorker{s: s})
	return s, nil
}

// SetQueue gives the service the queue deletions go on. The queue is built
// after workers register, so it arrives here rather than in New.
func (s *Service) SetQueue(q *jobs.Queue) { s.queue = q }

// Error codes of this domain (besides the handoff and call-brief ones).
const (
	CodeAgentNotFound        = "agent_not_found"
	CodeVersionNotFound      = "agent_version_not_found"
	CodeProviderUnavailable  = "voice_provider_unavailable"
	CodeProviderError        = "voice_provider_error"
	CodeAgentIsHandoffTarget = "agent_is_handoff_target"
)

// providerError maps a runtime failure to the client's answer: 503
// voice_provider_unavailable when the runtime could not be used (retry
// later), 502 voice_provider_error when it refused the request.
func providerError(err error) *httpapi.Error {
	detail := runtimeDetail(err)
	if runtimeKind(err) == RuntimeUnavailable {
		return httpapi.NewError(http.StatusServiceUnavailable, CodeProviderUnavailable,
			"the voice runtime is unavailable; try again later").
			WithDetails(map[string]any{"provider": ProviderTelnyx, "provider_error": detail}).
			WithHeader("Retry-After", "5")
	}
	return httpapi.NewError(http.StatusBadGateway, CodeProviderError, "the voice runtime refused the assistant: "+detail).
		WithDetails(map[string]any{"provider": ProviderTelnyx, "provider_error": detail})
}

// fail maps a service error to the client's answer: client errors pass
// through, unknown agents and versions are 404s, the rest a logged 500.
func (s *Service) fail(ctx context.Context, err error) error {
	if errors.Is(err, errVersionNotFound) {
		return httpapi.NewError(http.StatusNotFound, CodeVersionNotFound, "no such agent version")
	}
	return httpapi.Fail(ctx, s.log, err, ErrNotFound, httpapi.NewError(http.StatusNotFound, CodeAgentNotFound, "no such agent"))
}

var errVersionNotFound = errors.New("agent version not found")

// keyedMutex serializes work per key (an agent id) so pushes to the runtime
// for one agent happen one at a time, each sending the newest settings.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedEntry{}
	}
	e := k.locks[key]
	if e == nil {
		e = &keyedEntry{}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

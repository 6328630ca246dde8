// Package telnyxsim is a stateful, Telnyx-compatible HTTP server for
// development and tests. It answers the Telnyx v2 operations Peak Voice
// uses with Telnyx's paths, envelopes, ids and error shapes; plays out
// messages and calls as signed webhooks (delivery receipts, TeXML status
// callbacks, the assistant dynamic-variables request, webhook tools) using
// documented magic numbers for busy, no-answer, voicemail and failure; and
// has a control API under /_sim/ to inject inbound calls and SMS, inspect
// state and inject faults. See docs/simulator.md.
package telnyxsim

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Config configures a simulator. The zero value works.
type Config struct {
	// APIKey is the bearer token API requests must carry.
	// Default "KEYsimulator".
	APIKey string
	// Numbers is the account's phone-number inventory in E.164. Each must
	// be a valid number. Default: DefaultNumbers().
	Numbers []string
	// PrivateKey signs webhooks; default a fresh key. Pass a stored key to
	// keep PublicKey stable across restarts.
	PrivateKey ed25519.PrivateKey
	// StepDelay is the pause between play-out steps (webhooks of one
	// message or call, conversation turns). Default 300ms; tests use a
	// few milliseconds.
	StepDelay time.Duration
	// WebhookTimeout bounds each webhook delivery. Default 2s (Telnyx's).
	WebhookTimeout time.Duration
	// WebhookAttempts is how many times a failed delivery is tried per
	// URL. Default 3.
	WebhookAttempts int
	// WebhookRetryDelay is the pause before a repeated delivery; it grows
	// linearly with the attempt. Default 1s.
	WebhookRetryDelay time.Duration
	// MessagingWebhookURL receives message webhooks when neither the
	// message nor its number's messaging profile names a URL.
	MessagingWebhookURL string
	// History bounds how many messages, calls, AI conversations and
	// recordings the simulator remembers, and 4× as many webhook
	// deliveries: past it the oldest finished ones are forgotten (looking
	// them up answers 404, as Telnyx does for old calls). Default 10,000;
	// negative remembers everything.
	History int
	// DefaultScript is the scripted caller used when a call has none.
	// Default: DefaultScript().
	DefaultScript []ScriptStep
	// HTTPClient sends webhooks. It is only ever used against URLs the
	// simulator was given. Default: a plain client (per-request timeouts
	// come from WebhookTimeout and the assistant's settings).
	HTTPClient *http.Client
	// Now is the clock used for timestamps and signatures. Default time.Now.
	Now func() time.Time
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
}

// DefaultNumbers is the inventory used when Config.Numbers is empty: valid
// US numbers in area codes 312 and 415 whose last four digits are not magic.
func DefaultNumbers() []string {
	return []string{"+13126200100", "+13126200101", "+13126200102", "+14152360100", "+14152360101"}
}

// DefaultAPIKey is the API key used when Config.APIKey is empty.
const DefaultAPIKey = "KEYsimulator"

// Server is a running simulator. Create it with New, serve Handler(), and
// Close it to stop its play-out goroutines.
type Server struct {
	cfg       Config
	priv      ed25519.PrivateKey
	pub       string
	accountID string
	client    *http.Client
	handler   http.Handler

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	st     state
}

// New builds a simulator from cfg.
func New(cfg Config) (*Server, error) {
	if cfg.APIKey == "" {
		cfg.APIKey = DefaultAPIKey
	}
	if len(cfg.Numbers) == 0 {
		cfg.Numbers = DefaultNumbers()
	}
	if cfg.StepDelay <= 0 {
		cfg.StepDelay = 300 * time.Millisecond
	}
	if cfg.History == 0 {
		cfg.History = 10_000
	}
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = 2 * time.Second
	}
	if cfg.WebhookAttempts <= 0 {
		cfg.WebhookAttempts = 3
	}
	if cfg.WebhookRetryDelay <= 0 {
		cfg.WebhookRetryDelay = time.Second
	}
	if cfg.DefaultScript == nil {
		cfg.DefaultScript = DefaultScript()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	client := cfg.HTTPClient
	if client == nil {
		// Keep a connection per concurrent webhook (the default keeps 2
		// per host, so a busy simulator would dial for most webhooks).
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		client = &http.Client{
			Transport: tr,
			// Webhooks are never redirected: a 3xx counts as a failure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	priv := cfg.PrivateKey
	if priv == nil {
		_, p, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("telnyxsim: generate key: %w", err)
		}
		priv = p
	} else if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("telnyxsim: private key has %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:       cfg,
		priv:      priv,
		pub:       base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)),
		accountID: uuid.NewString(),
		client:    client,
		ctx:       ctx,
		cancel:    cancel,
		st:        newState(),
	}
	for _, n := range cfg.Numbers {
		if err := s.addNumber(n); err != nil {
			cancel()
			return nil, err
		}
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the simulator's HTTP handler. The Telnyx API lives under
// /v2/ and the control API under /_sim/.
func (s *Server) Handler() http.Handler { return s.handler }

// PublicKey returns the webhook verification key: base64 of the 32-byte
// Ed25519 public key, as Telnyx shows it in its portal.
func (s *Server) PublicKey() string { return s.pub }

// APIKey returns the bearer token the simulator accepts.
func (s *Server) APIKey() string { return s.cfg.APIKey }

// Close stops every play-out goroutine and waits for them. In-flight
// webhook requests are cancelled. Requests arriving afterwards are still
// answered but start no play-out.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// Serve serves the simulator on ln until ctx is cancelled, then shuts the
// HTTP server down and closes the simulator.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = hs.Shutdown(shutCtx)
		cancel()
		<-errc
	case err = <-errc:
	}
	s.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Run starts a simulator for cfg on addr (e.g. "127.0.0.1:4010") and serves
// it until ctx is cancelled. ready, if non-nil, is called once the listener
// is open with the API base URL (ending in /v2) and the server.
func Run(ctx context.Context, addr string, cfg Config, ready func(baseURL string, s *Server)) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.Close()
		return fmt.Errorf("telnyxsim: listen %s: %w", addr, err)
	}
	if ready != nil {
		ready("http://"+ln.Addr().String()+"/v2", s)
	}
	return s.Serve(ctx, ln)
}

// spawn runs fn in a goroutine owned by the server, unless it is closed.
func (s *Server) spawn(fn func(ctx context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.ctx)
	}()
}

// sleep waits d or until ctx or stop is done; it reports whether the full
// wait elapsed.
func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}

func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

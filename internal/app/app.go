package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peakvoice/peakvoice/docs"
	"github.com/peakvoice/peakvoice/internal/agents"
	"github.com/peakvoice/peakvoice/internal/auth"
	"github.com/peakvoice/peakvoice/internal/calls"
	"github.com/peakvoice/peakvoice/internal/carrier"
	"github.com/peakvoice/peakvoice/internal/console"
	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/inbound"
	"github.com/peakvoice/peakvoice/internal/jobs"
	"github.com/peakvoice/peakvoice/internal/messaging"
	"github.com/peakvoice/peakvoice/internal/numbers"
	"github.com/peakvoice/peakvoice/internal/phonenum"
	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
	"github.com/peakvoice/peakvoice/internal/webhooks"
)

// carrierMessagingPath receives the carrier's message events.
const carrierMessagingPath = "/webhooks/telnyx/messaging"

// Carrier webhooks of the calls domain.
const (
	carrierCallStatusPath       = "/webhooks/telnyx/call-status"
	carrierDynamicVariablesPath = "/webhooks/telnyx/dynamic-variables"
	carrierGatePath             = "/webhooks/telnyx/texml/inbound"
	carrierLookupToolPath       = "/webhooks/telnyx/tools/lookup-inbound-caller-context"
)

// Version is set at build time with -ldflags "-X …/internal/app.Version=…".
var Version = "dev"

// App is a built, not yet running, Peak Voice server.
type App struct {
	cfg Config
	log *slog.Logger
	// start-up timing (see phase)
	started, lastPhase time.Time
	phases             []string
	DB                 *db.DB
	Queue              *jobs.Queue
	Auth               *auth.Service
	Webhooks           *webhooks.Service
	Numbers            *numbers.Service
	SMS                *messaging.Service
	Calls              *calls.Service
	Agents             *agents.Service
	Inbound            *inbound.Service
	HTTP               *httpapi.Server
	Metrics            *httpapi.Metrics

	// Carrier is the Telnyx adapter, aimed at Telnyx or at the embedded
	// simulator; CarrierVerifier checks the signatures of its webhooks.
	Carrier         *telnyx.Client
	CarrierVerifier *telnyx.Verifier
	Sim             *telnyxsim.Server // embedded simulator, when no real carrier
	SimInfo         SimInfo
	// PublicURL is where the carrier reaches this server's webhooks.
	PublicURL string

	ln, simLn net.Listener
	draining  atomic.Bool
}

// NewLogger builds the process logger from the config.
func NewLogger(c Config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if c.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(httpapi.LogHandler(h))
}

// New opens the database, applies migrations and builds every service.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, started: time.Now()}
	secrets, err := a.secrets()
	a.phase("secrets")
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir})
	if err != nil {
		return nil, err
	}
	a.DB = d
	a.phase("open database")
	ok := false
	defer func() {
		if !ok {
			a.closeAll()
		}
	}()
	if err := Migrate(ctx, d); err != nil {
		return nil, err
	}
	a.phase("migrate")
	// Listen now, so the addresses — and the URLs the carrier will call —
	// are known while the services are built.
	if a.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	a.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if a.PublicURL == "" {
		a.PublicURL = "http://" + a.ln.Addr().String()
	}
	if err := a.setupCarrier(secrets); err != nil {
		return nil, err
	}
	a.phase("carrier")

	pw := auth.PasswordParams{}
	if cfg.passwordCostLow {
		pw = auth.PasswordParams{MemoryKiB: 1024, Time: 1, Threads: 1}
	}
	a.Auth, err = auth.New(auth.Config{
		DB: d, JWTSecret: []byte(secrets.JWTSecret), AllowRegistration: cfg.AllowRegistration,
		Password: pw, Logger: log,
	})
	if err != nil {
		return nil, err
	}

	a.phase("auth")
	dev := cfg.Mode != ModeProduction
	// Tool-call tokens are keyed by the webhook signing secret (with their
	// own message prefix), so one secret to set covers both.
	toolSecret := []byte(secrets.WebhookSigningSecret)
	reg := jobs.NewRegistry()
	a.Webhooks, err = webhooks.New(webhooks.Config{
		DB: d, Secret: []byte(secrets.WebhookSigningSecret), AllowPrivate: dev,
		Schedule: cfg.webhookSchedule, Logger: log.With("component", "webhooks"),
	}, reg)
	if err != nil {
		return nil, err
	}
	a.phase("webhooks")
	a.Numbers = numbers.New(numbers.Config{
		DB: d, Inventory: carrier.Inventory{C: a.Carrier},
		MessagingWebhookURL: a.PublicURL + carrierMessagingPath,
		VoiceGateURL:        a.PublicURL + carrierGatePath, CallStatusURL: a.PublicURL + carrierCallStatusPath,
		Logger: log.With("component", "numbers"),
	})
	a.SMS = messaging.New(messaging.Config{
		DB: d, Carrier: carrier.Messages{C: a.Carrier}, Numbers: a.Numbers, Webhooks: a.Webhooks,
		CarrierWebhookURL: a.PublicURL + carrierMessagingPath,
		SendTimeout:       smsSendTimeout,
		StaleAfter:        cfg.SMSStaleAfter,
		ReconcileAfter:    cfg.SMSReconcileAfter, ReconcileEvery: cfg.SMSReconcileEvery,
		Logger: log.With("component", "sms"),
	}, reg)
	a.Agents, err = agents.New(agents.Config{
		DB: d, Runtime: carrier.NewAssistantRuntime(a.Carrier), PublicURL: a.PublicURL, AllowPrivate: dev,
		// Deleting an agent unbinds it from the team's numbers in the same
		// transaction, so no number points at a deleted agent.
		DeleteGuard: numbers.UnbindAgent,
		ToolHeaders: func(agentID string) map[string]string {
			return map[string]string{carrier.ToolTokenHeader: carrier.ToolToken(toolSecret, agentID)}
		},
		Logger: log.With("component", "agents"),
	}, reg)
	if err != nil {
		return nil, err
	}
	a.phase("numbers, sms, agents")
	a.Numbers.SetAgents(agentBinding{a.Agents})
	a.Inbound = inbound.New(inbound.Config{
		DB: d, Numbers: a.Numbers, Agents: agentBinding{a.Agents}, Webhooks: a.Webhooks,
		SweepEvery: cfg.inboundSweep, PoolDrain: cfg.PoolDrain, PoolCooldown: cfg.PoolCooldown,
		Logger: log.With("component", "inbound"),
	}, reg)
	a.Calls = calls.New(calls.Config{
		DB: d, Carrier: carrier.Calls{C: a.Carrier}, Numbers: a.Numbers, Webhooks: a.Webhooks,
		PublicURL: a.PublicURL, StatusCallbackURL: a.PublicURL + carrierCallStatusPath,
		Limits:         calls.Limits{CallsPerMinute: cfg.CallsPerMinute, Burst: cfg.CallBurst, MaxLiveCalls: cfg.MaxLiveCalls},
		StaleAfter:     cfg.CallStaleAfter,
		ReconcileEvery: cfg.CallReconcileEvery,
		Done:           ctx.Done(), Logger: log.With("component", "calls"),
	}, reg)
	a.Calls.SetAgents(agentCalls{a.Agents})
	a.Inbound.SetCalls(inboundCalls{a.Calls}, assistantIDs{a.Agents})
	a.phase("inbound, calls")
	a.Queue, err = jobs.New(d, reg, jobs.Config{
		JobTimeout: cfg.JobTimeout, RescueStuckJobsAfter: cfg.JobRescueAfter, Logger: log.With("component", "jobs"),
	})
	if err != nil {
		return nil, err
	}
	a.phase("job queue")
	a.Webhooks.SetQueue(a.Queue)
	a.Calls.SetQueue(a.Queue)
	a.Agents.SetQueue(a.Queue)
	if dev {
		log.Warn("development mode: generated secrets are kept in the data directory and webhooks may reach loopback and private addresses; use --mode production in deployments")
	}

	a.Metrics = httpapi.NewMetrics()
	a.Metrics.Registry.MustRegister(&queueCollector{q: a.Queue})
	a.Metrics.Registry.MustRegister(a.Calls.Collector()) // cross-replica call-event listener
	guide, err := loadGuide(docs.FS)
	if err != nil {
		return nil, err
	}
	a.phase("guide")
	a.HTTP = httpapi.New(httpapi.Config{
		Title: "Peak Voice API", Version: Version, Logger: log,
		Auth: a.Auth, Metrics: a.Metrics, Ready: a.ready, Guide: guide,
		TeamLimits: httpapi.TeamLimits{Rate: cfg.TeamRate, Burst: cfg.TeamBurst, InFlight: cfg.TeamInFlight},
	})
	a.Auth.Routes(a.HTTP.API)
	a.Webhooks.Routes(a.HTTP.API)
	phonenum.Routes(a.HTTP.API)
	a.Numbers.Routes(a.HTTP.API)
	a.SMS.Routes(a.HTTP.API)
	a.Agents.Routes(a.HTTP.API)
	a.Inbound.Routes(a.HTTP.API)
	a.HTTP.Handle("POST "+carrierMessagingPath, carrier.MessagingWebhook(a.CarrierVerifier, a.SMS, log.With("component", "carrier-webhooks")))
	a.Calls.Routes(a.HTTP.API)
	a.HTTP.Handle("POST "+carrierCallStatusPath, carrier.CallStatusWebhook(a.CarrierVerifier, a.Calls, log.With("component", "carrier-webhooks")))
	hooksLog := log.With("component", "carrier-webhooks")
	a.HTTP.Handle("POST "+carrierDynamicVariablesPath, carrier.DynamicVariablesWebhook(a.CarrierVerifier, hooksLog, callVariables{a.Calls, a.Inbound}))
	a.HTTP.Handle("POST "+carrierGatePath, carrier.GateWebhook(a.CarrierVerifier, a.Inbound, hooksLog))
	a.HTTP.Handle("POST "+carrierLookupToolPath, carrier.LookupToolWebhook(toolSecret, inboundCalls{a.Calls}, a.Inbound, hooksLog))
	if err := a.mountConsole(); err != nil {
		return nil, err
	}
	a.phase("routes")
	ok = true
	return a, nil
}

// mountConsole serves the web console at /console/. Its pages call the
// API in-process through the full handler, so they get the API's own
// authentication, validation and limits. The simulator panel exists only
// in development mode with the embedded simulator.
func (a *App) mountConsole() error {
	simURL := ""
	if a.Sim != nil && a.cfg.Mode != ModeProduction {
		simURL = a.SimInfo.URL
	}
	c, err := console.New(console.Config{
		API: a.HTTP.Handler(), Production: a.cfg.Mode == ModeProduction, AllowRegistration: a.cfg.AllowRegistration,
		SimURL: simURL, Logger: a.log.With("component", "console"),
	})
	if err != nil {
		return err
	}
	a.HTTP.Handle(console.Prefix+"/", c)
	a.HTTP.Handle("GET "+console.Prefix, http.RedirectHandler(console.Prefix+"/", http.StatusMovedPermanently))
	return nil
}

// closeAll releases what New opened, when New fails or Run ends.
func (a *App) closeAll() {
	if a.ln != nil {
		a.ln.Close()
	}
	if a.simLn != nil {
		a.simLn.Close()
	}
	if a.Sim != nil {
		a.Sim.Close()
	}
	if a.DB != nil {
		a.DB.Close()
	}
}

// Migrate brings the app's and the job queue's schemas up to date.
func Migrate(ctx context.Context, d *db.DB) error {
	if _, err := d.Migrate(ctx); err != nil {
		return err
	}
	return jobs.Migrate(ctx, d)
}

// secrets returns the signing secrets: configured ones win, the rest come
// from (and are generated into) the data directory.
func (a *App) secrets() (devSecrets, error) {
	s := devSecrets{JWTSecret: a.cfg.JWTSecret, WebhookSigningSecret: a.cfg.WebhookSecret}
	missing := s.JWTSecret == "" || s.WebhookSigningSecret == ""
	if !missing && a.cfg.RealCarrier() {
		return s, nil
	}
	if a.cfg.DataDir == "" {
		if missing {
			return s, errors.New("set --jwt-secret and --webhook-signing-secret, or a --data-dir to keep generated ones in")
		}
		s.SimSigningKey = randomSecret() // nowhere to keep it: the simulator key lasts one run
		return s, nil
	}
	gen, err := loadDevSecrets(a.cfg.DataDir)
	if err != nil {
		return s, err
	}
	if s.JWTSecret == "" {
		s.JWTSecret = gen.JWTSecret
	}
	if s.WebhookSigningSecret == "" {
		s.WebhookSigningSecret = gen.WebhookSigningSecret
	}
	s.SimSigningKey = gen.SimSigningKey
	return s, nil
}

func (a *App) ready(ctx context.Context) error {
	if a.draining.Load() {
		return errors.New("shutting down")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.DB.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if !a.Queue.Running() {
		return errors.New("job queue not running")
	}
	return nil
}

// phase records how long the start-up step just finished took (logged at
// debug level once serving, to see where start-up time goes).
func (a *App) phase(name string) {
	now := time.Now()
	last := a.started
	if a.lastPhase.After(last) {
		last = a.lastPhase
	}
	a.lastPhase = now
	a.phases = append(a.phases, fmt.Sprintf("%s %s", name, now.Sub(last).Round(100*time.Microsecond)))
}

// Addr is the address the API listens on.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Run serves until ctx is cancelled, then drains: readiness turns 503,
// in-flight requests finish, jobs stop, the simulator and the database
// close. onListen, if set, receives the bound address (useful with :0).
func (a *App) Run(ctx context.Context, onListen func(addr string)) error {
	defer a.closeAll()
	ln := a.ln
	if err := a.Queue.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	a.phase("start job queue")
	// Streams hear of other replicas' call events through PostgreSQL
	// (nothing on SQLite). Stopped, and waited for, before the database
	// closes.
	stopCallEvents := a.Calls.StartEventListener(context.WithoutCancel(ctx))
	defer stopCallEvents()
	simCtx, stopSim := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSim()
	waitSim := a.serveSim(simCtx)
	srv := &http.Server{
		Handler:           a.HTTP.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	stopDebug, err := a.serveDebug(ctx, a.cfg.DebugAddr)
	if err != nil {
		return fmt.Errorf("debug address %s: %w", a.cfg.DebugAddr, err)
	}
	defer stopDebug()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	a.phase("serve")
	a.log.Info("peakvoice serving", "addr", "http://"+addr, "database", a.dbLabel(), "version", Version)
	a.log.Debug("start-up phases", "phases", a.phases)
	if onListen != nil {
		onListen(addr)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.draining.Store(true)
	a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	httpErr := srv.Shutdown(sctx)
	jobErr := a.Queue.Stop(sctx)
	stopSim()
	waitSim()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	if err := errors.Join(serveErr, httpErr, jobErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	a.log.Info("stopped cleanly")
	return nil
}

func (a *App) dbLabel() string {
	if a.DB.Dialect == db.SQLite {
		return "sqlite:" + a.DB.Path
	}
	return "postgres"
}

// loadGuide reads the integration guide and the other pages from the docs
// folder.
func loadGuide(fsys fs.FS) (httpapi.Guide, error) {
	g := httpapi.Guide{Extra: map[string][]byte{}}
	err := fs.WalkDir(fsys, ".", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".md") {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		switch path {
		case "index.md":
			g.Index = b
		case "peak-voice-api.md":
			g.Full = b
		default:
			g.Extra[path] = b
		}
		return nil
	})
	if err != nil {
		return g, err
	}
	if g.Index == nil || g.Full == nil {
		return g, errors.New("docs: index.md and peak-voice-api.md must exist")
	}
	return g, nil
}

// queueCollector reports the job queue's depth on each scrape.
type queueCollector struct{ q *jobs.Queue }

var (
	queueWaitingDesc = prometheus.NewDesc("peakvoice_jobs_waiting", "Jobs waiting to run (available, scheduled or retryable).", nil, nil)
	queueRunningDesc = prometheus.NewDesc("peakvoice_jobs_running", "Jobs running now.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueWaitingDesc
	ch <- queueRunningDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	waiting, running, err := c.q.Depth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueWaitingDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(queueWaitingDesc, prometheus.GaugeValue, float64(waiting))
	ch <- prometheus.MustNewConstMetric(queueRunningDesc, prometheus.GaugeValue, float64(running))
}

// Package app wires Peak Voice together — configuration, database, job
// queue, domain services and the HTTP server — and runs it until told to
// stop. cmd/peakvoice is a thin shell around it.
package app

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/peakvoice/peakvoice/internal/httpapi"
)

// Config is everything `peakvoice serve` can be told. Each field has a flag
// and a PEAKVOICE_* environment variable; flags win.
type Config struct {
	Addr              string
	DataDir           string
	DatabaseURL       string
	AllowRegistration bool
	JWTSecret         string
	WebhookSecret     string
	// Carrier: a real Telnyx account when all three of TelnyxAPIKey,
	// TelnyxPublicKey and PublicURL are set; otherwise the embedded
	// simulator on SimAddr.
	TelnyxAPIKey    string
	TelnyxPublicKey string
	TelnyxAPIBase   string
	PublicURL       string
	SimAddr         string
	// PoolDrain and PoolCooldown time how a pooled number returns after
	// its inbound session ends.
	PoolDrain, PoolCooldown time.Duration
	// Call limits per team: creation rate and burst, and live calls.
	CallsPerMinute float64
	CallBurst      int
	MaxLiveCalls   int
	// Per-team request limits of this process: requests per second, the
	// burst allowed at once, and requests in progress at once (streams
	// excepted). Zero takes httpapi's defaults; negative switches a limit
	// off. On the command line, 0 switches it off.
	TeamRate                float64
	TeamBurst, TeamInFlight int
	// Recovery timings: how soon work left behind by a process that died
	// is noticed and finished. Zero means the owning package's default;
	// ParseServe fills in the same defaults explicitly. Tests shorten them.
	//
	// SMSStaleAfter is how long an SMS send may stay in flight before the
	// sweeper declares its outcome unknown (must exceed the send timeout).
	SMSStaleAfter time.Duration
	// CallStaleAfter is how long a live call may go without news from the
	// carrier before the reconciler asks about it; CallReconcileEvery is
	// how often the reconciler runs.
	CallStaleAfter, CallReconcileEvery time.Duration
	// SMSReconcileAfter is how long an outbound SMS's delivery state may
	// stand still before the carrier is asked about it;
	// SMSReconcileEvery is how often that check runs.
	SMSReconcileAfter, SMSReconcileEvery time.Duration
	// JobTimeout bounds a job that sets no timeout of its own;
	// JobRescueAfter is how long a job may stay running (for example after
	// its process was killed) before it is rescued and retried. It must
	// exceed JobTimeout.
	JobTimeout, JobRescueAfter time.Duration
	// Mode is "development" (the zero-config default: generated secrets,
	// webhooks may reach loopback) or "production".
	Mode            string
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	// DebugAddr, when set, serves Go's profiler there (loopback only).
	DebugAddr string

	// Set by tests: cheap sign-in, and a scaled-down webhook schedule.
	passwordCostLow bool
	webhookSchedule []time.Duration
	simStepDelay    time.Duration
	inboundSweep    time.Duration
}

// Defaults of the recovery timings (the owning packages' own defaults).
const (
	// smsSendTimeout bounds one carrier send of an SMS; a send cannot be
	// declared stale before it could have finished.
	smsSendTimeout            = 15 * time.Second
	defaultSMSStaleAfter      = smsSendTimeout + 2*time.Minute
	defaultCallStaleAfter     = 2 * time.Minute
	defaultCallReconcileEvery = 30 * time.Second
	defaultSMSReconcileAfter  = 10 * time.Minute
	defaultSMSReconcileEvery  = time.Minute
	defaultJobTimeout         = time.Minute
	defaultJobRescueAfter     = 2 * time.Minute
)

// RealCarrier reports whether the config names a real Telnyx account.
func (c Config) RealCarrier() bool { return c.TelnyxAPIKey != "" }

// Modes.
const (
	ModeDevelopment = "development"
	ModeProduction  = "production"
)

// envLookup reads the environment; tests substitute a map.
type envLookup func(string) (string, bool)

// ParseServe reads serve's flags, falling back to the environment and then
// to the defaults.
func ParseServe(args []string, env envLookup) (Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c Config
	str := func(p *string, name, envName, def, usage string) {
		if v, ok := env(envName); ok {
			def = v
		}
		fs.StringVar(p, name, def, usage+" (env "+envName+")")
	}
	str(&c.Addr, "addr", "PEAKVOICE_ADDR", "127.0.0.1:8080", "address to listen on")
	str(&c.DataDir, "data-dir", "PEAKVOICE_DATA_DIR", "./data", "directory for the SQLite database and development secrets")
	str(&c.DatabaseURL, "database-url", "PEAKVOICE_DATABASE_URL", "", "postgres://… to use PostgreSQL; empty for SQLite in the data dir")
	str(&c.JWTSecret, "jwt-secret", "PEAKVOICE_JWT_SECRET", "", "secret for signing access tokens (at least 32 bytes); generated into the data dir when empty")
	str(&c.WebhookSecret, "webhook-signing-secret", "PEAKVOICE_WEBHOOK_SIGNING_SECRET", "", "secret that signs outgoing webhooks; generated into the data dir when empty in development")
	str(&c.Mode, "mode", "PEAKVOICE_MODE", ModeDevelopment, "development or production")
	str(&c.TelnyxAPIKey, "telnyx-api-key", "TELNYX_API_KEY", "", "Telnyx API v2 key; with --telnyx-public-key and --public-url, use the real carrier")
	str(&c.TelnyxPublicKey, "telnyx-public-key", "TELNYX_PUBLIC_KEY", "", "Telnyx webhook public key (base64 Ed25519)")
	str(&c.TelnyxAPIBase, "telnyx-api-base", "TELNYX_API_BASE", "https://api.telnyx.com/v2", "Telnyx-compatible API base URL (e.g. a standalone simulator)")
	str(&c.PublicURL, "public-url", "PEAKVOICE_PUBLIC_URL", "", "base URL at which the carrier reaches this server (default: the listen address)")
	str(&c.SimAddr, "sim-addr", "PEAKVOICE_SIM_ADDR", "127.0.0.1:0", "loopback address of the embedded carrier simulator (when no real carrier is configured)")
	str(&c.LogLevel, "log-level", "PEAKVOICE_LOG_LEVEL", "info", "debug, info, warn or error")
	str(&c.LogFormat, "log-format", "PEAKVOICE_LOG_FORMAT", "text", "text or json")
	str(&c.DebugAddr, "debug-addr", "PEAKVOICE_DEBUG_ADDR", "", "serve Go's profiler (/debug/pprof/) at this address, e.g. 127.0.0.1:6060; unauthenticated, keep it on loopback")

	allowReg := true
	if v, ok := env("PEAKVOICE_ALLOW_REGISTRATION"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("PEAKVOICE_ALLOW_REGISTRATION: %w", err)
		}
		allowReg = b
	}
	fs.BoolVar(&c.AllowRegistration, "allow-registration", allowReg, "allow POST /api/v1/auth/register (env PEAKVOICE_ALLOW_REGISTRATION)")

	shutdown := 20 * time.Second
	if v, ok := env("PEAKVOICE_SHUTDOWN_TIMEOUT"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("PEAKVOICE_SHUTDOWN_TIMEOUT: %w", err)
		}
		shutdown = d
	}
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", shutdown, "how long SIGTERM waits for requests and jobs to finish (env PEAKVOICE_SHUTDOWN_TIMEOUT)")

	durFlag := func(p *time.Duration, name, envName string, def time.Duration, usage string) error {
		if v, ok := env(envName); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %w", envName, err)
			}
			def = d
		}
		fs.DurationVar(p, name, def, usage+" (env "+envName+")")
		return nil
	}
	if err := durFlag(&c.PoolDrain, "pool-drain", "PEAKVOICE_POOL_DRAIN", time.Hour, "how long a pooled number keeps routing late callers to its ended session"); err != nil {
		return c, err
	}
	if err := durFlag(&c.PoolCooldown, "pool-cooldown", "PEAKVOICE_POOL_COOLDOWN", 24*time.Hour, "how long a pooled number rests before its next lease"); err != nil {
		return c, err
	}
	for _, d := range []struct {
		p             *time.Duration
		name, envName string
		def           time.Duration
		usage         string
	}{
		{&c.SMSStaleAfter, "sms-stale-after", "PEAKVOICE_SMS_STALE_AFTER", defaultSMSStaleAfter,
			"how long an SMS send may stay in flight before it is marked failed with outcome_unknown (more than the " + smsSendTimeout.String() + " send timeout)"},
		{&c.CallStaleAfter, "call-stale-after", "PEAKVOICE_CALL_STALE_AFTER", defaultCallStaleAfter,
			"how long a live call may go without news before its state is checked with the carrier"},
		{&c.CallReconcileEvery, "call-reconcile-every", "PEAKVOICE_CALL_RECONCILE_EVERY", defaultCallReconcileEvery,
			"how often live calls without news are checked with the carrier"},
		{&c.SMSReconcileAfter, "sms-reconcile-after", "PEAKVOICE_SMS_RECONCILE_AFTER", defaultSMSReconcileAfter,
			"how long an SMS's delivery state may stand still before it is checked with the carrier"},
		{&c.SMSReconcileEvery, "sms-reconcile-every", "PEAKVOICE_SMS_RECONCILE_EVERY", defaultSMSReconcileEvery,
			"how often SMS whose state stands still are checked with the carrier"},
		{&c.JobTimeout, "job-timeout", "PEAKVOICE_JOB_TIMEOUT", defaultJobTimeout,
			"how long a background job may run unless it sets its own limit"},
		{&c.JobRescueAfter, "job-rescue-after", "PEAKVOICE_JOB_RESCUE_AFTER", defaultJobRescueAfter,
			"how long a job may stay running (e.g. its process died) before it is retried; more than --job-timeout"},
	} {
		if err := durFlag(d.p, d.name, d.envName, d.def, d.usage); err != nil {
			return c, err
		}
	}
	intFlag := func(p *int, name, envName string, def int, usage string) error {
		if v, ok := env(envName); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s: %w", envName, err)
			}
			def = n
		}
		fs.IntVar(p, name, def, usage+" (env "+envName+")")
		return nil
	}
	perMinute := 60.0
	if v, ok := env("PEAKVOICE_CALLS_PER_MINUTE"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return c, fmt.Errorf("PEAKVOICE_CALLS_PER_MINUTE: %w", err)
		}
		perMinute = f
	}
	fs.Float64Var(&c.CallsPerMinute, "calls-per-minute", perMinute, "sustained rate of call creation per team (env PEAKVOICE_CALLS_PER_MINUTE)")
	if err := intFlag(&c.CallBurst, "call-burst", "PEAKVOICE_CALL_BURST", 10, "calls a team may create at once before the rate applies"); err != nil {
		return c, err
	}
	if err := intFlag(&c.MaxLiveCalls, "max-live-calls", "PEAKVOICE_MAX_LIVE_CALLS", 20, "calls a team may have in progress at once"); err != nil {
		return c, err
	}
	teamRate := float64(httpapi.DefaultTeamRate)
	if v, ok := env("PEAKVOICE_TEAM_RATE"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return c, fmt.Errorf("PEAKVOICE_TEAM_RATE: %w", err)
		}
		teamRate = f
	}
	fs.Float64Var(&c.TeamRate, "team-rate", teamRate, "requests per second one team may make to this process; 0: no limit (env PEAKVOICE_TEAM_RATE)")
	if err := intFlag(&c.TeamBurst, "team-burst", "PEAKVOICE_TEAM_BURST", httpapi.DefaultTeamBurst, "requests one team may make at once before --team-rate applies"); err != nil {
		return c, err
	}
	if err := intFlag(&c.TeamInFlight, "team-in-flight", "PEAKVOICE_TEAM_IN_FLIGHT", httpapi.DefaultTeamInFlight, "requests one team may have in progress at once, event streams not counted; 0: no limit"); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	// On the command line 0 means "no limit"; in Config it means "the default".
	if c.TeamRate == 0 {
		c.TeamRate = -1
	}
	if c.TeamInFlight == 0 {
		c.TeamInFlight = -1
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	// Zero means "the default" only to configs built in code; given here,
	// it would silently do so.
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"sms-stale-after", c.SMSStaleAfter}, {"call-stale-after", c.CallStaleAfter}, {"call-reconcile-every", c.CallReconcileEvery},
		{"sms-reconcile-after", c.SMSReconcileAfter}, {"sms-reconcile-every", c.SMSReconcileEvery},
		{"job-timeout", c.JobTimeout}, {"job-rescue-after", c.JobRescueAfter}} {
		if d.v <= 0 {
			return c, fmt.Errorf("--%s must be positive", d.name)
		}
	}
	return c, c.validate()
}

func (c Config) validate() error {
	var errs []error
	if c.DatabaseURL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required when --database-url is empty"))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("--database-url must start with postgres:// (or be empty for SQLite)"))
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		errs = append(errs, errors.New("--jwt-secret must be at least 32 bytes"))
	}
	switch c.Mode {
	case ModeDevelopment:
	case ModeProduction:
		if c.JWTSecret == "" || c.WebhookSecret == "" {
			errs = append(errs, errors.New("production mode needs --jwt-secret and --webhook-signing-secret set explicitly"))
		}
	default:
		errs = append(errs, errors.New("--mode must be development or production"))
	}
	set := 0
	for _, v := range []string{c.TelnyxAPIKey, c.TelnyxPublicKey, c.PublicURL} {
		if v != "" {
			set++
		}
	}
	if c.TelnyxAPIKey != "" && set < 3 {
		errs = append(errs, errors.New("a real carrier needs --telnyx-api-key, --telnyx-public-key and --public-url together"))
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, errors.New("--public-url must start with http:// or https://"))
	}
	if c.Mode == ModeProduction && c.TelnyxAPIKey == "" {
		errs = append(errs, errors.New("production mode needs a real carrier (--telnyx-api-key, --telnyx-public-key, --public-url)"))
	}
	if c.CallsPerMinute < 0 || c.CallBurst < 0 || c.MaxLiveCalls < 0 {
		errs = append(errs, errors.New("call limits must not be negative"))
	}
	// Zero leaves a timing to its package's default (configs built in code).
	if c.SMSStaleAfter < 0 || c.CallStaleAfter < 0 || c.CallReconcileEvery < 0 || c.JobTimeout < 0 || c.JobRescueAfter < 0 {
		errs = append(errs, errors.New("recovery timings must not be negative"))
	}
	if c.SMSStaleAfter != 0 && c.SMSStaleAfter <= smsSendTimeout {
		errs = append(errs, fmt.Errorf("--sms-stale-after must be longer than the %v SMS send timeout", smsSendTimeout))
	}
	if c.JobRescueAfter != 0 && c.JobRescueAfter <= cmp.Or(c.JobTimeout, defaultJobTimeout) {
		errs = append(errs, errors.New("--job-rescue-after must be longer than --job-timeout"))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, errors.New("--log-format must be text or json"))
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("--log-level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}

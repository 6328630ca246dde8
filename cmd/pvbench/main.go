// Command pvbench measures Peak Voice under load on the machine it runs
// on: it starts a server in-process (or targets one at --url), seeds
// realistic data, runs each scenario for a set time at a set concurrency,
// and prints throughput, latency percentiles, errors by status and peak
// RSS, each scenario next to a baseline measured in the same run (a bare
// net/http handler, bare committed SQLite inserts). See docs/benchmarks.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	duration    time.Duration
	concurrency int
	scenarios   []string
	engines     []string
	url         string
	dataDir     string
	serverPID   int
	pgURL       string
	tmp         string
	keep        bool
	binary      string
	pprofDir    string
	// Sizes.
	sessions, targetsPer, listCalls, backlog, sseStreams, sseEvents int
	dvRate                                                          float64
	idleWait                                                        time.Duration
}

var allScenarios = []string{"sms", "dv", "lookup", "calls", "list", "webhooks", "sse", "startup"}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("pvbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each scenario (and baseline) runs")
	fs.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients in closed-loop scenarios")
	scen := fs.String("scenarios", strings.Join(allScenarios, ","), "comma-separated: "+strings.Join(allScenarios, ","))
	engines := fs.String("engines", "", "comma-separated sqlite,postgres (default: sqlite, plus postgres when a URL is set)")
	fs.StringVar(&o.url, "url", "", "target a running server at this base URL instead of starting one (needs --data-dir)")
	fs.StringVar(&o.dataDir, "data-dir", "", "with --url: the server's data directory (secrets.json; the SQLite file)")
	fs.IntVar(&o.serverPID, "server-pid", 0, "with --url: the server's pid, to report its RSS")
	fs.StringVar(&o.pgURL, "database-url", os.Getenv("PEAKVOICE_TEST_POSTGRES_URL"), "PostgreSQL URL; each run uses a fresh schema (default $PEAKVOICE_TEST_POSTGRES_URL)")
	fs.StringVar(&o.tmp, "tmp", "", "parent directory for temporary data (default the system's)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary data directory")
	fs.StringVar(&o.binary, "peakvoice-bin", "", "startup scenario: a built peakvoice binary (default: go build one)")
	fs.StringVar(&o.pprofDir, "pprof-dir", "", "write a CPU profile of each scenario here")
	fs.IntVar(&o.sessions, "sessions", 10_000, "dv/lookup: active inbound sessions (one recorded inbound call each)")
	fs.IntVar(&o.targetsPer, "targets-per-session", 10, "dv/lookup: callback targets per session")
	fs.IntVar(&o.listCalls, "list-calls", 1_000_000, "list: calls stored before listing")
	fs.IntVar(&o.backlog, "backlog", 5_000, "webhooks: events committed at once for the backlog drain")
	fs.IntVar(&o.sseStreams, "sse-streams", 10_000, "sse: concurrent streams")
	fs.IntVar(&o.sseEvents, "sse-events", 1_000, "sse: status events sent to sample streams")
	fs.Float64Var(&o.dvRate, "dv-rate", 1000, "dv: open-loop request rate")
	fs.DurationVar(&o.idleWait, "idle-wait", 3*time.Second, "startup: idle time before reading RSS")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(*scen, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ","))
		}
		o.scenarios = append(o.scenarios, s)
	}
	var err error
	if o.engines, err = parseEngines(*engines, o.pgURL); err != nil {
		return nil, err
	}
	if o.url != "" && o.dataDir == "" {
		return nil, errors.New("--url needs --data-dir (the server's secrets sign the carrier requests)")
	}
	if o.duration <= 0 || o.concurrency <= 0 || o.sessions <= 0 || o.targetsPer <= 0 || o.listCalls <= 0 ||
		o.backlog <= 0 || o.sseStreams <= 0 || o.dvRate <= 0 {
		return nil, errors.New("durations, sizes and rates must be positive")
	}
	return o, nil
}

// parseEngines reads --engines: by default SQLite, plus PostgreSQL when a
// URL is set.
func parseEngines(list, pgURL string) ([]string, error) {
	engines := []string{"sqlite"}
	if list == "" && pgURL != "" {
		engines = append(engines, "postgres")
	} else if list != "" {
		engines = strings.Split(list, ",")
	}
	for _, e := range engines {
		if e != "sqlite" && e != "postgres" {
			return nil, fmt.Errorf("unknown engine %q", e)
		}
		if e == "postgres" && pgURL == "" {
			return nil, errors.New("--engines postgres needs --database-url or PEAKVOICE_TEST_POSTGRES_URL")
		}
	}
	return engines, nil
}

func (o *options) want(s string) bool { return slices.Contains(o.scenarios, s) }

func main() {
	if os.Getenv(childEnv) != "" {
		os.Exit(sseChild())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "pvbench:", err)
		}
		os.Exit(1)
	}
}

// run is the whole benchmark; the smoke test calls it with tiny sizes.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "soak" {
		return runSoak(ctx, args[1:], stdout, stderr)
	}
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	limit := raiseFileLimit()
	tmp, err := os.MkdirTemp(o.tmp, "pvbench-")
	if err != nil {
		return err
	}
	o.tmp = tmp
	if !o.keep {
		defer os.RemoveAll(tmp)
	}
	p := newPrinter(stdout)
	printMachine(p, o, limit)
	base, err := runBaselines(ctx, o, p)
	if err != nil {
		return err
	}
	if o.url != "" {
		t, err := attachExternal(ctx, o)
		if err != nil {
			return err
		}
		defer t.close()
		if err := runEngine(ctx, o, p, t, base); err != nil {
			return err
		}
	} else {
		for _, e := range o.engines {
			if err := runInProcess(ctx, o, p, e, base); err != nil {
				return fmt.Errorf("%s: %w", e, err)
			}
		}
	}
	if o.want("startup") && o.url == "" {
		if err := scenStartup(ctx, o, p); err != nil {
			return fmt.Errorf("startup: %w", err)
		}
	}
	printTargets(p)
	return nil
}

func runInProcess(ctx context.Context, o *options, p *printer, engine string, base map[string]*result) error {
	start := time.Now()
	t, err := startInProcess(ctx, o, engine)
	if err != nil {
		return err
	}
	defer t.close()
	p.logf("%s server up at %s in %s (in-process, embedded simulator)", engine, t.base, time.Since(start).Round(time.Millisecond))
	return runEngine(ctx, o, p, t, base)
}

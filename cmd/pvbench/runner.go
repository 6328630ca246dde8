package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

// printMachine prints what the figures depend on.
func printMachine(p *printer, o *options, fileLimit uint64) {
	p.logf("pvbench %s", time.Now().UTC().Format(time.RFC3339))
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	p.logf("machine: %d CPUs (GOMAXPROCS %d), %s, memory %s, open-file limit %d, %s",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), cpu, mib(memTotal()), fileLimit, runtime.Version())
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		dirty := ""
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			dirty = " (with uncommitted changes)"
		}
		p.logf("commit %s%s", strings.TrimSpace(string(out)), dirty)
	}
	load := fmt.Sprintf("concurrency %d", o.concurrency)
	if o.concurrency == 0 {
		load = "open loop" // the soak sets a rate, not a number of clients
	}
	p.logf("duration %s per scenario, %s, scenarios %s, engines %s", o.duration, load,
		strings.Join(o.scenarios, ","), strings.Join(o.engines, ","))
}

func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return -1
	}
	var kb int64
	for _, l := range strings.Split(string(b), "\n") {
		if _, err := fmt.Sscanf(l, "MemTotal: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	return -1
}

// runBaselines measures the bare handler and bare commits once per run.
func runBaselines(ctx context.Context, o *options, p *printer) (map[string]*result, error) {
	base := map[string]*result{}
	r, err := bareHTTP(ctx, o)
	if err != nil {
		return nil, err
	}
	base[baseHTTP] = r
	p.row(r)
	r, err = bareCommit(ctx, o, "")
	if err != nil {
		return nil, err
	}
	base[baseSQLite] = r
	p.row(r)
	if o.pgURL != "" && containsStr(o.engines, "postgres") {
		u, drop, err := freshSchema(ctx, o.pgURL)
		if err != nil {
			return nil, err
		}
		r, err = bareCommit(ctx, o, u)
		drop()
		if err != nil {
			return nil, err
		}
		base[basePG] = r
		p.row(r)
	}
	return base, nil
}

func containsStr(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// runEngine runs the selected scenarios against one server.
func runEngine(ctx context.Context, o *options, p *printer, t *target, base map[string]*result) error {
	if err := t.setupAccount(ctx, o); err != nil {
		return fmt.Errorf("set up the bench account: %w", err)
	}
	commit := baseSQLite
	if t.engine == "postgres" {
		commit = basePG
	}
	sk, err := startSink()
	if err != nil {
		return err
	}
	defer sk.close()
	emit := func(r *result, against string) {
		r.Engine = t.engine
		if b := base[against]; b != nil && b.rate() > 0 && r.rate() > 0 {
			r.Baseline, r.Ratio = against, r.rate()/b.rate()
		}
		p.row(r)
	}
	// profiled runs fn under a CPU profile when --pprof-dir is set.
	profiled := func(name string, fn func() error) error {
		if o.pprofDir == "" || ctx.Err() != nil {
			return fn()
		}
		_ = os.MkdirAll(o.pprofDir, 0o755)
		f, err := os.Create(filepath.Join(o.pprofDir, fmt.Sprintf("cpu-%s-%s.pprof", t.engine, name)))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fn()
		}
		defer pprof.StopCPUProfile()
		return fn()
	}
	steps := []struct {
		name string
		fn   func() error
	}{
		{"sms", func() error {
			r := scenSMS(ctx, o, t)
			t.settle(ctx, r)
			emit(r, commit)
			return nil
		}},
		{"calls", func() error {
			r := scenCallCreate(ctx, o, t)
			t.settle(ctx, r)
			emit(r, commit)
			return nil
		}},
		{"dv", func() error { return nil }}, // dv and lookup share seeded data: see below
		{"webhooks", func() error {
			r := scenWebhooksAPI(ctx, o, t, sk)
			emit(r, commit)
			if t.app != nil {
				emit(scenWebhooksBacklog(ctx, o, t, sk), commit)
			}
			t.settle(ctx, nil)
			return nil
		}},
		{"sse", func() error {
			if t.engine != o.engines[0] {
				return nil // once per run: streams read the same way on both engines
			}
			r, err := scenSSE(ctx, o, t)
			if err != nil {
				return err
			}
			emit(r, "")
			return nil
		}},
		{"list", func() error {
			r, err := scenCallList(ctx, o, t)
			if err != nil {
				return err
			}
			emit(r, baseHTTP)
			return nil
		}},
	}
	for _, s := range steps {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s.name == "dv" {
			if err := runInbound(ctx, o, p, t, sk, emit, profiled); err != nil {
				return err
			}
			continue
		}
		if !o.want(s.name) {
			continue
		}
		if err := profiled(s.name, s.fn); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// runInbound seeds the callback data once and runs dv and lookup on it.
func runInbound(ctx context.Context, o *options, p *printer, t *target, sk *sink, emit func(*result, string), profiled func(string, func() error) error) error {
	if !o.want("dv") && !o.want("lookup") {
		return nil
	}
	start := time.Now()
	d, err := seedInbound(ctx, o, t, sk.url+"/session-events")
	if err != nil {
		return fmt.Errorf("seed inbound: %w", err)
	}
	p.logf("%s: seeded %d sessions, %d callback targets and %d inbound calls in %s", t.engine, o.sessions,
		o.sessions*o.targetsPer, o.sessions, time.Since(start).Round(time.Millisecond))
	if o.want("dv") {
		if err := profiled("dv", func() error {
			for _, r := range scenDynamicVariables(ctx, o, t, d) {
				emit(r, baseHTTP)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if o.want("lookup") {
		return profiled("lookup", func() error {
			emit(scenLookup(ctx, o, t, d), baseHTTP)
			return nil
		})
	}
	return nil
}

// printTargets checks the figures against the targets of issue 9. It
// only reports: the tool never fails a run over a number.
func printTargets(p *printer) {
	find := func(name, engine string) *result {
		for _, r := range p.results {
			if r.Name == name && (engine == "" || r.Engine == engine) {
				return r
			}
		}
		return nil
	}
	var lines []string
	check := func(what string, ok bool, got string) {
		mark := "MISSED"
		if ok {
			mark = "met"
		}
		lines = append(lines, fmt.Sprintf("%-7s %-62s %s", mark, what, got))
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		if r := find("sms-send", engine); r != nil {
			check(engine+": SMS send ≥ 50% of bare commits, p99 < 50ms", r.Ratio >= 0.5 && r.pct(0.99) < 50*time.Millisecond,
				fmt.Sprintf("%.0f%% of %s, p99 %s", 100*r.Ratio, r.Baseline, ms(r.pct(0.99))))
		}
		if r := find("dv-webhook", engine); r != nil {
			check(engine+": dynamic variables ≥ 25% of bare net/http", r.Ratio >= 0.25, fmt.Sprintf("%.1f%%", 100*r.Ratio))
		}
		if r := find("dv-webhook+session-events", engine); r != nil {
			check(engine+":   … on sessions with a webhook_url (events committed)", r.Ratio >= 0.25, fmt.Sprintf("%.1f%%", 100*r.Ratio))
		}
		for _, r := range p.results {
			if strings.HasPrefix(r.Name, "dv-webhook") && strings.Contains(r.Name, "@") && r.Engine == engine {
				rate := r.Name[strings.Index(r.Name, "@")+1:]
				what := engine + ": dynamic variables p99 < 5ms at " + rate
				if strings.Contains(r.Name, "(mix)") {
					what = engine + ":   … on the mix (half commit events)"
				}
				check(what, r.pct(0.99) < 5*time.Millisecond, fmt.Sprintf("p99 %s, %.0f req/s done", ms(r.pct(0.99)), r.rate()))
			}
		}
		for _, name := range []string{"webhooks-delivered(api)", "webhooks-delivered(backlog)"} {
			if r := find(name, engine); r != nil {
				check(engine+": webhook deliveries ≥ 1,000/s ("+strings.TrimSuffix(strings.TrimPrefix(name, "webhooks-delivered("), ")")+")",
					r.rate() >= 1000, fmt.Sprintf("%.0f/s", r.rate()))
			}
		}
	}
	if r := find("sse-streams", ""); r != nil && r.Extra != nil {
		check("SSE ≤ 32 KiB per idle stream", r.Extra["kib_per_stream"] <= 32,
			fmt.Sprintf("%.1f KiB over %.0f streams", r.Extra["kib_per_stream"], r.Extra["streams"]))
	}
	if r := find("startup-cold", ""); r != nil {
		check("cold start < 300ms", r.Extra["ready_ms"] < 300, fmt.Sprintf("%.0fms", r.Extra["ready_ms"]))
		check("idle RSS < 60 MB", r.Extra["idle_rss_mib"] < 60*1e6/(1<<20), fmt.Sprintf("%.1f MiB = %.1f MB", r.Extra["idle_rss_mib"], r.Extra["idle_rss_mib"]*(1<<20)/1e6))
	}
	if r := find("startup-warm", ""); r != nil {
		check("warm start < 300ms (for comparison)", r.Extra["ready_ms"] < 300, fmt.Sprintf("%.0fms", r.Extra["ready_ms"]))
	}
	if len(lines) == 0 {
		return
	}
	p.logf("targets (issue 9):")
	for _, l := range lines {
		p.logf("  %s", l)
	}
}

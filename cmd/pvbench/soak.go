package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The soak run ("pvbench soak") holds a mixed, realistic load on a real
// server process for a long time and watches the process itself: its
// RSS, heap, goroutines and open files, sampled through /metrics and
// /proc. It answers three questions the reliability promises depend on:
// does memory stay flat, does anything answer 5xx, and does the server
// return to its idle goroutine count once the load stops (no leaked
// streams, timers or connections). Every webhook the load causes goes to
// a loopback receiver, and every call it places is followed to its end.

// soakOptions are the flags of "pvbench soak".
type soakOptions struct {
	duration, sample, settle, warmup time.Duration
	rate                             float64
	engines                          []string
	pgURL, tmp, binary               string
	keep                             bool
	leakSlack                        int
}

func parseSoakFlags(args []string, stderr io.Writer) (*soakOptions, error) {
	o := &soakOptions{}
	fs := flag.NewFlagSet("pvbench soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "how long the mixed load runs")
	fs.DurationVar(&o.sample, "sample", 10*time.Second, "how often the server's memory and goroutines are read (and a progress line printed)")
	fs.DurationVar(&o.warmup, "warmup", 30*time.Second, "warm-up with the same mix before the idle figures are read")
	fs.DurationVar(&o.settle, "settle", 2*time.Minute, "how long to wait after the load for jobs, calls and streams to finish")
	fs.Float64Var(&o.rate, "rate", 30, "operations started per second (open loop)")
	engines := fs.String("engines", "", "comma-separated sqlite,postgres (default: sqlite, plus postgres when a URL is set)")
	fs.StringVar(&o.pgURL, "database-url", os.Getenv("PEAKVOICE_TEST_POSTGRES_URL"), "PostgreSQL URL; each run uses a fresh schema (default $PEAKVOICE_TEST_POSTGRES_URL)")
	fs.StringVar(&o.tmp, "tmp", "", "parent directory for temporary data (default the system's)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary data directory (server logs included)")
	fs.StringVar(&o.binary, "peakvoice-bin", "", "a built peakvoice binary (default: go build one)")
	fs.IntVar(&o.leakSlack, "goroutine-slack", 10, "goroutines the idle server may hold above its idle count before the load and still count as flat")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.duration <= 0 || o.sample <= 0 || o.rate <= 0 || o.settle <= 0 || o.warmup <= 0 {
		return nil, errors.New("durations and the rate must be positive")
	}
	var err error
	if o.engines, err = parseEngines(*engines, o.pgURL); err != nil {
		return nil, err
	}
	return o, nil
}

// errSoakFailed is returned when a run broke a promise: a 5xx or a
// transport error, a goroutine leak, a lost webhook or an unfinished call.
var errSoakFailed = errors.New("soak run failed its checks (see the verdict lines)")

// runSoak is "pvbench soak": one soak per engine against a real server
// process built from this checkout.
func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseSoakFlags(args, stderr)
	if err != nil {
		return err
	}
	limit := raiseFileLimit()
	tmp, err := os.MkdirTemp(o.tmp, "pvsoak-")
	if err != nil {
		return err
	}
	o.tmp = tmp
	if !o.keep {
		defer os.RemoveAll(tmp)
	}
	p := newPrinter(stdout)
	printMachine(p, &options{duration: o.duration, scenarios: []string{"soak"}, engines: o.engines}, limit)
	p.logf("soak: %.0f ops/s for %s, samples every %s", o.rate, o.duration, o.sample)
	bin := o.binary
	if bin == "" {
		if bin, err = buildPeakvoice(ctx, tmp, p); err != nil {
			return err
		}
	}
	failed := false
	for _, engine := range o.engines {
		rep, err := soakEngine(ctx, o, p, bin, engine)
		if err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
		if !rep.ok() {
			failed = true
		}
	}
	if failed {
		return errSoakFailed
	}
	return nil
}

// buildPeakvoice builds the server binary into dir.
func buildPeakvoice(ctx context.Context, dir string, p *printer) (string, error) {
	bin := filepath.Join(dir, "peakvoice")
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/peakvoice/peakvoice/cmd/peakvoice")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build peakvoice (or pass --peakvoice-bin): %w", err)
	}
	p.logf("built %s in %s", bin, time.Since(start).Round(time.Millisecond))
	return bin, nil
}

// serverProc is a peakvoice serve process.
type serverProc struct {
	cmd  *exec.Cmd
	base string
	dir  string
	log  *os.File
	done chan error
}

// simProc is a standalone carrier simulator ("peakvoice telnyx-sim").
type simProc struct {
	cmd                  *exec.Cmd
	base, apiKey, pubKey string
}

// startSimProc runs the carrier simulator in a process of its own, so the
// server under test runs as in production — against a carrier over the
// network — and its memory is its own, not the simulator's history.
func startSimProc(ctx context.Context, bin string) (*simProc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "telnyx-sim", "--addr", addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sp := &simProc{cmd: cmd}
	sc := bufio.NewScanner(out)
	for (sp.base == "" || sp.apiKey == "" || sp.pubKey == "") && sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch v = strings.TrimSpace(v); strings.TrimSpace(k) {
		case "api base":
			sp.base = v
		case "api key":
			sp.apiKey = v
		case "public key":
			sp.pubKey = v
		}
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if sp.base == "" || sp.apiKey == "" || sp.pubKey == "" {
		sp.stop()
		return nil, errors.New("the simulator did not print its address and keys")
	}
	return sp, nil
}

func (sp *simProc) stop() {
	_ = sp.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = sp.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = sp.cmd.Process.Kill()
		<-done
	}
}

// controlURL is the simulator's control API base (the API base without /v2).
func (sp *simProc) controlURL() string {
	return strings.TrimSuffix(strings.TrimRight(sp.base, "/"), "/v2")
}

func startServerProc(ctx context.Context, bin, dir, dbURL string, sim *simProc) (*serverProc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", addr, "--data-dir", dir, "--log-level", "warn",
		"--calls-per-minute", "100000", "--call-burst", "10000", "--max-live-calls", "10000",
		"--telnyx-api-key", sim.apiKey, "--telnyx-public-key", sim.pubKey, "--telnyx-api-base", sim.base,
		"--public-url", "http://" + addr}
	if dbURL != "" {
		args = append(args, "--database-url", dbURL)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "PEAKVOICE_ALLOW_REGISTRATION=true")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &serverProc{cmd: cmd, base: "http://" + addr, dir: dir, log: logf, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	hc := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("server exited during start-up: %v (log: %s)", err, logf.Name())
		default:
		}
		if res, err := hc.Get(s.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
	}
	s.stop(5 * time.Second)
	return nil, errors.New("server not ready within 60s")
}

// stop sends SIGTERM and waits up to grace for a clean exit; it kills the
// process after that. It reports whether the exit was clean.
func (s *serverProc) stop(grace time.Duration) (clean bool, err error) {
	defer s.log.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return err == nil, err
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		return false, <-s.done
	}
}

// logLines counts the server log's lines at each level.
func (s *serverProc) logLines() map[string]int {
	out := map[string]int{}
	f, err := os.Open(s.log.Name())
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		for _, lv := range []string{"ERROR", "WARN"} {
			if strings.Contains(sc.Text(), "level="+lv) || strings.Contains(sc.Text(), `"level":"`+lv+`"`) {
				out[lv]++
			}
		}
	}
	return out
}

// procSample is one reading of the server process.
type procSample struct {
	at time.Duration
	// rss is the anonymous resident memory (RssAnon): heap, stacks and
	// buffers. File-backed pages, such as the SQLite file the readers map,
	// grow with the database and belong to the page cache, not the process.
	rss, heap                       int64
	goroutines, fds, jobs           int
	ops, errs5xx, transport, inFlow int64
	// server5xx counts the 5xx the server answered anyone (the load, and
	// the carrier simulator's callbacks) other than 503; server503 counts
	// the 503s, which ask the caller to come back (a carrier callback that
	// raced its own dial or outwaited an overloaded server is delivered
	// again by the carrier).
	server5xx, server503 int64
}

// scrape reads the server's /metrics and /proc figures.
func scrape(ctx context.Context, cl *client, pid int) (procSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cl.base+"/metrics", nil)
	if err != nil {
		return procSample{}, err
	}
	res, err := cl.hc.Do(req)
	if err != nil {
		return procSample{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return procSample{}, fmt.Errorf("/metrics: status %d", res.StatusCode)
	}
	vals := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	want := []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "process_open_fds", "peakvoice_jobs_waiting", "peakvoice_jobs_running"}
	var server5xx, server503 int64
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "peakvoice_http_requests_total{") && strings.Contains(line, `status="5`) {
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				if f, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
					if strings.Contains(line, `status="503"`) {
						server503 += int64(f)
					} else {
						server5xx += int64(f)
					}
				}
			}
			continue
		}
		name, v, ok := strings.Cut(line, " ")
		if !ok || !slices.Contains(want, name) {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			vals[name] = f
		}
	}
	if err := sc.Err(); err != nil {
		return procSample{}, err
	}
	return procSample{
		rss: rssOf(pid, "RssAnon"), heap: int64(vals["go_memstats_heap_inuse_bytes"]),
		goroutines: int(vals["go_goroutines"]), fds: int(vals["process_open_fds"]),
		jobs:      int(vals["peakvoice_jobs_waiting"] + vals["peakvoice_jobs_running"]),
		server5xx: server5xx, server503: server503,
	}, nil
}

// opStats counts one kind of operation's answers.
type opStats struct {
	mu       sync.Mutex
	lat      []time.Duration
	statuses map[int]int
}

func (s *opStats) add(d time.Duration, st int) {
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.statuses[st]++
	s.mu.Unlock()
}

// soakLoad is the state of one soak run's load.
type soakLoad struct {
	t       *target
	sk      *sink
	simURL  string
	kinds   []string
	stats   map[string]*opStats
	ops     atomic.Int64
	bad5xx  atomic.Int64
	badConn atomic.Int64
	skipped atomic.Int64
	// Calls placed and the streams that followed them.
	streams                             sync.WaitGroup
	streamsOK, streamsFailed, callsMade atomic.Int64
	testAccepted                        atomic.Int64
}

// The mix, per 20 operations: what a busy team's integration and its
// dashboard do in a minute, scaled.
var soakMix = []string{
	"sms-send", "sms-send", "sms-send", "sms-send", "sms-send", "sms-send",
	"call-create", "call-create",
	"calls-list", "calls-list", "calls-list", "call-get",
	"sms-list", "conversations",
	"webhook-test",
	"inbound-call", "inbound-call", "inbound-sms",
	"deliveries-list", "agents-list",
}

// soakEngine runs one soak on one engine and prints its report.
func soakEngine(ctx context.Context, o *soakOptions, p *printer, bin, engine string) (*soakReport, error) {
	dir, err := os.MkdirTemp(o.tmp, "server-"+engine+"-")
	if err != nil {
		return nil, err
	}
	dbURL := ""
	if engine == "postgres" {
		var drop func()
		if dbURL, drop, err = freshSchema(ctx, o.pgURL); err != nil {
			return nil, err
		}
		defer drop()
	}
	sim, err := startSimProc(ctx, bin)
	if err != nil {
		return nil, err
	}
	defer sim.stop()
	srv, err := startServerProc(ctx, bin, dir, dbURL, sim)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_, _ = srv.stop(10 * time.Second)
		}
	}()
	t := &target{engine: engine, base: srv.base, pid: srv.cmd.Process.Pid}
	if err := t.setupAccount(ctx, &options{concurrency: 32, duration: o.duration}); err != nil {
		return nil, fmt.Errorf("set up the soak account: %w", err)
	}
	defer t.cl.close()
	sk, err := startSink()
	if err != nil {
		return nil, err
	}
	defer sk.close()
	if err := soakInbound(ctx, t, sk.url+"/soak-sessions"); err != nil {
		return nil, fmt.Errorf("open the inbound session: %w", err)
	}
	newLoad := func() *soakLoad {
		l := &soakLoad{t: t, sk: sk, simURL: sim.controlURL(), stats: map[string]*opStats{}}
		for _, k := range soakMix {
			if l.stats[k] == nil {
				l.kinds = append(l.kinds, k)
				l.stats[k] = &opStats{statuses: map[int]int{}}
			}
		}
		return l
	}
	metrics := newClient(srv.base, 2)
	defer metrics.close()
	// Warm up with the same mix, so that connection pools, caches and
	// worker goroutines have grown to their working size; the idle figures
	// after it are what the server must come back to after the soak.
	p.logf("%s: server pid %d ready; warming up for %s", engine, t.pid, o.warmup)
	warm := newLoad()
	warm.drive(ctx, o.warmup, o, p, engine+" warm-up", metrics)
	idle, _, err := warm.settle(ctx, metrics, o.settle, nil, 0)
	if err != nil {
		return nil, err
	}
	p.logf("%s: idle after warm-up: anonymous RSS %s, heap %s, %d goroutines, %d open files (settled in %s)",
		engine, mib(idle.rss), mib(idle.heap), idle.goroutines, idle.fds, idle.at.Round(time.Second))

	l := newLoad()
	samples := l.drive(ctx, o.duration, o, p, engine, metrics)
	after, streamsSettled, err := l.settle(ctx, metrics, o.settle, &idle, o.leakSlack)
	if err != nil {
		return nil, err
	}
	rep := &soakReport{engine: engine, idle: idle, after: after, samples: samples, load: l, slack: o.leakSlack,
		duration: o.duration, streamsSettled: streamsSettled, testAccepted: warm.testAccepted.Load() + l.testAccepted.Load()}
	rep.deliveries, rep.deliveriesErr = l.deliveryStates(ctx)
	rep.testDelivered = sk.distinct("/soak-test")
	stopped = true
	rep.cleanExit, rep.exitErr = srv.stop(30 * time.Second)
	rep.logs = srv.logLines()
	rep.print(p)
	return rep, nil
}

// settle waits, up to limit, for the work the load left behind to finish
// — queued jobs, calls still being played out, the streams following
// them — and returns the server's figures then. With a target it also
// waits for the goroutines to come back within slack of the target's;
// without one, for their count to hold still over three readings.
func (l *soakLoad) settle(ctx context.Context, metrics *client, limit time.Duration, target *procSample, slack int) (procSample, bool, error) {
	start := time.Now()
	streamsDone := make(chan struct{})
	go func() { l.streams.Wait(); close(streamsDone) }()
	var s procSample
	var err error
	var seen []int
	for {
		l.t.cl.close() // drop our idle keep-alive connections so their server goroutines end
		s, err = scrape(ctx, metrics, l.t.pid)
		if err != nil {
			return s, false, err
		}
		seen = append(seen, s.goroutines)
		quiet := s.jobs == 0 && isClosed(streamsDone)
		if target != nil {
			quiet = quiet && s.goroutines <= target.goroutines+slack
		} else {
			n := len(seen)
			quiet = quiet && n >= 3 && seen[n-1] == seen[n-2] && seen[n-2] == seen[n-3]
		}
		if quiet || time.Since(start) > limit || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	s.at = time.Since(start)
	return s, isClosed(streamsDone), nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// soakInbound opens a long callback session on the team's number with
// twenty callback targets, so half the simulated inbound callers are
// recognised and half are not.
func soakInbound(ctx context.Context, t *target, hookURL string) error {
	var sess struct{ Data struct{ ID string } }
	if _, err := t.cl.do(ctx, "POST", "/api/v1/inbound-sessions", mustJSON(map[string]any{
		"phone_number_id": t.numberID, "agent_id": t.agentID, "callback_window_seconds": 86400,
		"context_variables": map[string]any{"campaign": "soak"}, "webhook_url": hookURL,
	}), &sess, t.auth()...); err != nil {
		return err
	}
	for i := range 20 {
		if _, err := t.cl.do(ctx, "POST", "/api/v1/inbound-sessions/"+sess.Data.ID+"/callback-targets", mustJSON(map[string]any{
			"label": fmt.Sprintf("Order #%d", 100+i), "contact_name": fmt.Sprintf("Caller %d", i),
			"known_phone_numbers": []string{callerNumber(i)},
			"context_variables":   map[string]any{"order_id": strconv.Itoa(100 + i)},
		}), &struct{}{}, t.auth()...); err != nil {
			return err
		}
	}
	return nil
}

// drive runs the open-loop load for o.duration, printing a progress line
// with a server sample every o.sample.
func (l *soakLoad) drive(ctx context.Context, dur time.Duration, o *soakOptions, p *printer, engine string, metrics *client) []procSample {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	const maxInFlight = 64
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Duration(float64(time.Second) / o.rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	sampleTick := time.NewTicker(o.sample)
	defer sampleTick.Stop()
	var samples []procSample
	for i := 0; ; {
		select {
		case <-ctx.Done():
			wg.Wait()
			return samples
		case <-sampleTick.C:
			s, err := scrape(context.WithoutCancel(ctx), metrics, l.t.pid)
			if err != nil {
				p.logf("%s: sample failed: %v", engine, err)
				continue
			}
			s.at = time.Since(start)
			s.ops, s.errs5xx, s.transport = l.ops.Load(), l.bad5xx.Load(), l.badConn.Load()
			s.inFlow = int64(len(sem))
			samples = append(samples, s)
			p.logf("%s %6s  ops %7d (%.0f/s)  5xx %d (server: 500s %d, 503s %d)  conn-errors %d  anon-RSS %s  heap %s  goroutines %d  fds %d  jobs %d  in-flight %d",
				engine, s.at.Round(time.Second), s.ops, float64(s.ops)/s.at.Seconds(), s.errs5xx, s.server5xx, s.server503, s.transport,
				mib(s.rss), mib(s.heap), s.goroutines, s.fds, s.jobs, s.inFlow)
		case <-tick.C:
			select {
			case sem <- struct{}{}:
			default:
				l.skipped.Add(1) // the server is behind: never pile up unbounded work
				continue
			}
			n := i
			i++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				kind := soakMix[n%len(soakMix)]
				t0 := time.Now()
				st := l.do(context.WithoutCancel(ctx), kind, n)
				l.stats[kind].add(time.Since(t0), st)
				l.ops.Add(1)
				switch {
				case st == 0:
					l.badConn.Add(1)
				case st >= 500:
					l.bad5xx.Add(1)
				}
			}()
		}
	}
}

// do performs one operation of kind and returns its HTTP status.
func (l *soakLoad) do(ctx context.Context, kind string, n int) int {
	t := l.t
	key := "soak-" + t.engine + "-" + strconv.Itoa(n)
	switch kind {
	case "sms-send":
		return t.cl.status(ctx, "POST", "/api/v1/sms/send", mustJSON(map[string]any{
			"to": "+14155550142", "text": "Your table is ready (" + strconv.Itoa(n) + ").", "phone_number_id": t.numberID,
			"idempotency_key": key, "webhook_url": l.sk.url + "/soak-sms"}), t.auth()...)
	case "call-create":
		var c struct{ Data struct{ ID string } }
		st, err := t.cl.do(ctx, "POST", "/api/v1/calls", mustJSON(map[string]any{
			"agent_id": t.agentID, "phone_number_to": "+14155550142", "webhook_url": l.sk.url + "/soak-calls",
			"call_brief_variables": map[string]string{"customer_name": "Ada " + strconv.Itoa(n), "order_id": strconv.Itoa(n)},
		}), &c, append(t.auth(), "Idempotency-Key", key)...)
		if err == nil && c.Data.ID != "" {
			l.callsMade.Add(1)
			l.streams.Add(1)
			go l.follow(context.WithoutCancel(ctx), c.Data.ID)
		}
		return st
	case "calls-list":
		return t.cl.status(ctx, "GET", "/api/v1/calls?per_page=20&page="+strconv.Itoa(1+n%3), nil, t.auth()...)
	case "call-get":
		return t.cl.status(ctx, "GET", "/api/v1/calls?per_page=1&status=completed", nil, t.auth()...)
	case "sms-list":
		return t.cl.status(ctx, "GET", "/api/v1/sms?per_page=20", nil, t.auth()...)
	case "conversations":
		return t.cl.status(ctx, "GET", "/api/v1/conversations?per_page=20", nil, t.auth()...)
	case "webhook-test":
		st := t.cl.status(ctx, "POST", "/api/v1/webhook-events/test", mustJSON(map[string]string{"url": l.sk.url + "/soak-test"}), t.auth()...)
		if st == http.StatusAccepted {
			l.testAccepted.Add(1)
		}
		return st
	case "inbound-call":
		// The simulator rings the team's number: gate, dynamic variables,
		// the conversation and the status callbacks all hit the server.
		return l.sim(ctx, "/_sim/inbound-calls", map[string]any{"from": callerNumber(n % 40), "to": t.number,
			"caller_name": fmt.Sprintf("Caller %d", n%40)})
	case "inbound-sms":
		return l.sim(ctx, "/_sim/inbound-messages", map[string]any{"from": callerNumber(n % 40), "to": t.number,
			"text": "Is my order ready? " + strconv.Itoa(n)})
	case "deliveries-list":
		return t.cl.status(ctx, "GET", "/api/v1/webhook-deliveries?per_page=20", nil, t.auth()...)
	case "agents-list":
		return t.cl.status(ctx, "GET", "/api/v1/agents", nil, t.auth()...)
	}
	panic("unknown soak operation " + kind)
}

// sim asks the carrier simulator to inject traffic. A 2xx from the
// simulator means it accepted the injection; what the server answered it
// shows up in the server's own counters and the session webhooks.
func (l *soakLoad) sim(ctx context.Context, path string, body any) int {
	sc := &client{hc: l.t.cl.hc, base: l.simURL}
	return sc.status(ctx, "POST", path, mustJSON(body))
}

// follow reads a call's event stream until the server ends it, as a live
// dashboard would; a stream that errors or outlives two minutes fails.
func (l *soakLoad) follow(ctx context.Context, callID string) {
	defer l.streams.Done()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.t.base+"/api/v1/calls/"+callID+"/stream", nil)
	if err != nil {
		l.streamsFailed.Add(1)
		return
	}
	req.Header.Set("X-API-Key", l.t.apiKey)
	res, err := l.t.cl.hc.Do(req)
	if err != nil {
		l.streamsFailed.Add(1)
		return
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		l.streamsFailed.Add(1)
		return
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		l.streamsFailed.Add(1)
		return
	}
	l.streamsOK.Add(1)
}

// deliveryStates reads the delivery log's totals by status after the run.
func (l *soakLoad) deliveryStates(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, st := range []string{"pending", "retrying", "failed", "succeeded"} {
		var page struct {
			Meta struct{ Total int } `json:"meta"`
		}
		if _, err := l.t.cl.do(ctx, "GET", "/api/v1/webhook-deliveries?per_page=1&status="+st, nil, &page, l.t.auth()...); err != nil {
			return nil, err
		}
		out[st] = page.Meta.Total
	}
	return out, nil
}

// soakReport is what one soak found.
type soakReport struct {
	engine                   string
	duration                 time.Duration
	idle, after              procSample
	samples                  []procSample
	load                     *soakLoad
	slack                    int
	streamsSettled           bool
	deliveries               map[string]int
	deliveriesErr            error
	testDelivered            int
	testAccepted             int64
	cleanExit                bool
	exitErr                  error
	logs                     map[string]int
	checks                   []string
	failures                 int
	rssEarly, rssLate, rssPk int64
}

func (r *soakReport) check(what string, ok bool, got string) {
	mark := "ok"
	if !ok {
		mark = "FAILED"
		r.failures++
	}
	r.checks = append(r.checks, fmt.Sprintf("%-6s %-52s %s", mark, what, got))
}

func (r *soakReport) ok() bool { return r.failures == 0 }

// rssWindows returns the mean RSS over the second tenth of the run (after
// warm-up: caches and pools filled) and over the last tenth.
func (r *soakReport) rssWindows() (early, late int64, n int) {
	var e, l []int64
	for _, s := range r.samples {
		switch f := float64(s.at) / float64(r.duration); {
		case f >= 0.1 && f < 0.2:
			e = append(e, s.rss)
		case f >= 0.9:
			l = append(l, s.rss)
		}
	}
	mean := func(v []int64) int64 {
		if len(v) == 0 {
			return 0
		}
		var sum int64
		for _, x := range v {
			sum += x
		}
		return sum / int64(len(v))
	}
	return mean(e), mean(l), min(len(e), len(l))
}

func (r *soakReport) print(p *printer) {
	l := r.load
	res := &result{Name: "soak", Engine: r.engine, Count: int(l.ops.Load()), Elapsed: r.duration, Statuses: map[int]int{}, PeakRSS: -1}
	for _, s := range r.samples {
		res.PeakRSS = max(res.PeakRSS, s.rss)
	}
	for _, k := range l.kinds {
		s := l.stats[k]
		kr := &result{Name: "soak:" + k, Engine: r.engine, Count: len(s.lat), Elapsed: r.duration, Lat: s.lat, Statuses: s.statuses, PeakRSS: -1}
		kr.finish()
		p.row(kr)
		for st, c := range s.statuses {
			res.Statuses[st] += c
		}
	}
	p.row(res)

	fivexx, conn := l.bad5xx.Load(), l.badConn.Load()
	r.check("zero 5xx answers", fivexx == 0, fmt.Sprintf("%d of %d operations", fivexx, l.ops.Load()))
	r.check("zero transport errors", conn == 0, fmt.Sprintf("%d", conn))
	srv5xx, srv503 := r.after.server5xx-r.idle.server5xx, r.after.server503-r.idle.server503
	r.check("server answered no 500s to anyone (carrier included)", srv5xx == 0,
		fmt.Sprintf("%d; and %d 503s asking a caller to retry (carrier callbacks are delivered again)", srv5xx, srv503))
	r.check("goroutines back to idle after the load", r.after.goroutines <= r.idle.goroutines+r.slack,
		fmt.Sprintf("idle %d after warm-up, %d after the soak and %s settling (slack %d)", r.idle.goroutines, r.after.goroutines, r.after.at.Round(time.Second), r.slack))
	r.check("open files back to idle after the load", r.after.fds <= r.idle.fds+r.slack,
		fmt.Sprintf("idle %d before, %d after", r.idle.fds, r.after.fds))
	r.check("every call followed to its end over SSE", r.streamsSettled && l.streamsFailed.Load() == 0 && l.streamsOK.Load() == l.callsMade.Load(),
		fmt.Sprintf("%d calls, %d streams ended cleanly, %d failed", l.callsMade.Load(), l.streamsOK.Load(), l.streamsFailed.Load()))
	r.check("every test event delivered (warm-up included)", r.testDelivered >= int(r.testAccepted),
		fmt.Sprintf("%d accepted, %d distinct event ids received", r.testAccepted, r.testDelivered))
	if r.deliveriesErr != nil {
		r.check("delivery log settled", false, r.deliveriesErr.Error())
	} else {
		d := r.deliveries
		r.check("delivery log settled: none pending, retrying or failed", d["pending"]+d["retrying"]+d["failed"] == 0,
			fmt.Sprintf("succeeded %d, pending %d, retrying %d, failed %d", d["succeeded"], d["pending"], d["retrying"], d["failed"]))
	}
	r.check("job queue empty after the load", r.after.jobs == 0, fmt.Sprintf("%d jobs", r.after.jobs))
	r.check("SIGTERM exits cleanly", r.cleanExit, fmt.Sprintf("exit: %v", r.exitErr))
	early, late, n := r.rssWindows()
	if n == 0 || r.duration < 5*time.Minute {
		r.checks = append(r.checks, fmt.Sprintf("%-6s %-52s %s", "n/a", "anonymous RSS flat (judged on runs of 5 minutes or more)",
			fmt.Sprintf("peak %s", mib(res.PeakRSS))))
	} else {
		// Flat: the last tenth's mean within 10% (or 8 MiB) of the
		// second tenth's, once warm-up has filled caches and pools.
		growth := float64(late-early) / float64(early)
		r.check("anonymous RSS flat (last tenth vs second tenth)", late <= early+max(early/10, 8<<20),
			fmt.Sprintf("%s → %s (%+.1f%%), peak %s", mib(early), mib(late), 100*growth, mib(res.PeakRSS)))
	}
	p.logf("%s: skipped %d planned operations (in-flight cap 64); server log: %d ERROR, %d WARN lines",
		r.engine, l.skipped.Load(), r.logs["ERROR"], r.logs["WARN"])
	p.logf("%s soak verdict:", r.engine)
	for _, c := range r.checks {
		p.logf("  %s", c)
	}
}

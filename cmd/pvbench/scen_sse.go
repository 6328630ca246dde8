package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The SSE scenario holds o.sseStreams call streams open from a child
// process (this same binary, see sseChild), so the server's memory and
// file descriptors are measured without the clients' own. The parent
// then moves a sample of the calls along with signed status callbacks and
// the child reports when each stream saw its event.

// childEnv makes this binary run as the SSE client child.
const childEnv = "PVBENCH_SSE_CHILD"

// sseJob is what the parent tells the child on stdin.
type sseJob struct {
	Base    string   `json:"base"`
	APIKey  string   `json:"api_key"`
	CallIDs []string `json:"call_ids"`
}

// sseReport is what the child answers on stdout when told to stop.
type sseReport struct {
	Opened int              `json:"opened"`
	Failed int              `json:"failed"`
	Recv   map[string]int64 `json:"recv"` // call id → unix ns of its first status event
	Errors []string         `json:"errors"`
}

func scenSSE(ctx context.Context, o *options, t *target) (*result, error) {
	tmplID, err := t.templateCall(ctx)
	if err != nil {
		return nil, err
	}
	tmpl, err := templateRow(ctx, t.db, "calls", tmplID)
	if err != nil {
		return nil, err
	}
	n := o.sseStreams
	ids, sids := make([]string, n), make([]string, n)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	now := time.Now().UTC()
	if err := newCloner(t.db, "calls", tmpl).insert(ctx, n, func(i int) set {
		ids[i], sids[i] = uuid.Must(uuid.NewV7()).String(), "v3:bench-sse-"+run+"-"+strconv.Itoa(i)
		return set{"id": ids[i], "provider_call_id": sids[i], "idempotency_key": nil, "status": "initiated", "status_rank": 2,
			"result_status": "pending", "event_seq": 0, "ended_at": nil, "answered_at": nil, "ringing_at": nil,
			"hangup_cause": nil, "hangup_source": nil, "duration_seconds": nil, "created_at": now, "updated_at": now}
	}); err != nil {
		return nil, err
	}

	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	freeMemory(t)
	rssBefore, heapBefore := rssOf(t.pid, "RssAnon"), goMem(t)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { _ = cmd.Wait() }()
	defer stdin.Close()
	out := bufio.NewReader(stdout)
	_ = json.NewEncoder(stdin).Encode(sseJob{Base: t.base, APIKey: t.apiKey, CallIDs: ids})
	line, err := out.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("sse child: %w", err)
	}
	var opened, failed int
	_, _ = fmt.Sscanf(line, "READY %d %d", &opened, &failed)
	// Short runs (the smoke test) wait less; real runs let every stream
	// reach its idle loop and measure a few poll cycles.
	pause := min(3*time.Second, o.duration)
	time.Sleep(pause)
	freeMemory(t)
	cpuIdleStart := cpuTicks(t.pid)
	idleFor := min(4*time.Second, 2*o.duration)
	time.Sleep(idleFor)
	idleCPU := float64(cpuTicks(t.pid)-cpuIdleStart) / 100 / idleFor.Seconds()
	rssAfter, heapAfter := rssOf(t.pid, "RssAnon"), goMem(t)
	stacksAfter := goStacks(t)
	writeHeapProfile(o, t, "sse")

	// Move a sample of the calls to ringing, paced, and time each event.
	sample := min(n, o.sseEvents)
	sent := make(map[string]time.Time, sample)
	rss := sampleRSS(t.pid)
	pace := time.Second / 500
	statuses := map[int]int{}
	for i := range sample {
		k := (i * 7919) % n
		form := []byte(url.Values{"CallSid": {sids[k]}, "CallStatus": {"ringing"}, "SequenceNumber": {"2"},
			"Timestamp": {time.Now().UTC().Format(time.RFC3339Nano)}, "AccountSid": {"bench"}}.Encode())
		h := append(t.signCarrier(form), "Content-Type", "application/x-www-form-urlencoded")
		sent[ids[k]] = time.Now()
		statuses[t.cl.status(ctx, "POST", "/webhooks/telnyx/call-status", form, h...)]++
		time.Sleep(pace)
	}
	time.Sleep(pause)
	_, _ = io.WriteString(stdin, "STOP\n")
	var rep sseReport
	if err := json.NewDecoder(out).Decode(&rep); err != nil {
		return nil, fmt.Errorf("sse child report: %w", err)
	}
	r := &result{Name: "sse-streams", Statuses: map[int]int{}, PeakRSS: rss.Stop()}
	for id, t0 := range sent {
		if ns, ok := rep.Recv[id]; ok {
			r.Lat = append(r.Lat, time.Unix(0, ns).Sub(t0))
			r.Statuses[200]++
		} else {
			r.Statuses[0]++ // the event never reached the stream
		}
	}
	for st, c := range statuses {
		if st < 200 || st > 299 {
			r.Statuses[1000+st] += c // carrier callback refused (shown as 1000+status)
		}
	}
	r.Count, r.Elapsed = len(r.Lat), time.Duration(sample)*pace
	r.finish()
	r.note("%d streams open (%d failed to open) from a child process; target %d", opened, failed, n)
	if opened > 0 {
		r.set("kib_per_stream", float64(rssAfter-rssBefore)/1024/float64(opened))
		r.set("streams", float64(opened))
		r.note("server RSS %s → %s: %.1f KiB per open stream", mib(rssBefore), mib(rssAfter), float64(rssAfter-rssBefore)/1024/float64(opened))
		if heapBefore > 0 {
			r.note("Go heap+stacks %s → %s: %.1f KiB per open stream (goroutine stacks now %s)", mib(heapBefore), mib(heapAfter),
				float64(heapAfter-heapBefore)/1024/float64(opened), mib(stacksAfter))
		}
		r.note("server CPU with the streams idle: %.0f%% of one core ", 100*idleCPU)
	}
	r.note("latency: status callback sent → its call.status event read by the stream, %d events at 500/s; rate column is that pace", sample)
	if len(rep.Errors) > 0 {
		r.note("child errors (first): %s", rep.Errors[0])
	}
	return r, nil
}

// writeHeapProfile saves the in-process server's heap and goroutine
// profiles (with --pprof-dir), to see where per-connection memory goes.
func writeHeapProfile(o *options, t *target, name string) {
	if o.pprofDir == "" || t.app == nil {
		return
	}
	_ = os.MkdirAll(o.pprofDir, 0o755)
	for _, p := range []string{"heap", "goroutine"} {
		f, err := os.Create(filepath.Join(o.pprofDir, fmt.Sprintf("%s-%s-%s.pprof", p, t.engine, name)))
		if err != nil {
			continue
		}
		_ = pprof.Lookup(p).WriteTo(f, 0)
		_ = f.Close()
	}
}

// freeMemory returns freed heap to the OS so RSS readings compare.
func freeMemory(t *target) {
	if t.app != nil {
		runtime.GC()
		debug.FreeOSMemory()
	}
}

// goMem is the in-process heap and stack memory in use (0 when external).
func goMem(t *target) int64 {
	if t.app == nil {
		return 0
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// goStacks is the in-process goroutine stack memory in use (0 when external).
func goStacks(t *target) int64 {
	if t.app == nil {
		return 0
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.StackInuse)
}

// cpuTicks is a process's user+system CPU time in clock ticks (1/100 s).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// result is what one scenario run measured.
type result struct {
	Name     string
	Engine   string
	Count    int           // completed operations
	Elapsed  time.Duration // wall time of the measured window
	Lat      []time.Duration
	Statuses map[int]int // HTTP status (0: transport error) → count
	PeakRSS  int64       // bytes, -1 when unknown
	Baseline string      // name of the baseline the ratio is taken against
	Ratio    float64     // rate / baseline rate, 0 when none
	Notes    []string
	// Extra holds figures the targets are checked against (e.g. KiB per
	// stream, idle RSS).
	Extra map[string]float64
}

func (r *result) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Count) / r.Elapsed.Seconds()
}

// errors counts every answer that is not 2xx.
func (r *result) errors() int {
	n := 0
	for st, c := range r.Statuses {
		if st < 200 || st > 299 {
			n += c
		}
	}
	return n
}

func (r *result) pct(p float64) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	i := int(float64(len(r.Lat)-1) * p)
	return r.Lat[i]
}

func (r *result) set(k string, v float64) {
	if r.Extra == nil {
		r.Extra = map[string]float64{}
	}
	r.Extra[k] = v
}

func (r *result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// finish sorts the latencies so percentiles can be read.
func (r *result) finish() { slices.Sort(r.Lat) }

// recorder collects latencies and statuses from many goroutines; each
// worker keeps its own slice and merges once at the end.
type recorder struct {
	mu       sync.Mutex
	lat      []time.Duration
	statuses map[int]int
}

func newRecorder() *recorder { return &recorder{statuses: map[int]int{}} }

type workerRec struct {
	lat      []time.Duration
	statuses map[int]int
}

func (w *workerRec) add(d time.Duration, status int) {
	w.lat = append(w.lat, d)
	w.statuses[status]++
}

func (r *recorder) merge(w *workerRec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lat = append(r.lat, w.lat...)
	for k, v := range w.statuses {
		r.statuses[k] += v
	}
}

// printer writes result rows as they arrive and keeps them for the summary.
type printer struct {
	w       io.Writer
	mu      sync.Mutex
	results []*result
	header  bool
}

func newPrinter(w io.Writer) *printer {
	if w == nil {
		w = os.Stdout
	}
	return &printer{w: w}
}

func (p *printer) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "# "+format+"\n", args...)
}

const rowFormat = "%-30s %-8s %9s %10s %8s %8s %8s %8s %9s %-22s %s\n"

func (p *printer) row(r *result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.header {
		fmt.Fprintf(p.w, rowFormat, "scenario", "engine", "ops", "rate/s", "p50", "p95", "p99", "max", "peak_rss", "errors", "ratio")
		p.header = true
	}
	ratio := "-"
	if r.Ratio > 0 {
		ratio = fmt.Sprintf("%.1f%% of %s", 100*r.Ratio, r.Baseline)
	}
	fmt.Fprintf(p.w, rowFormat, r.Name, r.Engine, strconv.Itoa(r.Count), fmt.Sprintf("%.0f", r.rate()),
		ms(r.pct(0.50)), ms(r.pct(0.95)), ms(r.pct(0.99)), ms(maxOf(r.Lat)), mib(r.PeakRSS), statusSummary(r.Statuses), ratio)
	for _, n := range r.Notes {
		fmt.Fprintf(p.w, "    %s: %s\n", r.Name, n)
	}
	p.results = append(p.results, r)
}

func maxOf(l []time.Duration) time.Duration {
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

// ms formats a duration in milliseconds with sensible precision.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f == 0:
		return "-"
	case f < 10:
		return fmt.Sprintf("%.2fms", f)
	case f < 1000:
		return fmt.Sprintf("%.1fms", f)
	}
	return fmt.Sprintf("%.2fs", f/1000)
}

func mib(b int64) string {
	if b < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
}

// statusSummary lists non-2xx statuses as "503x4,0x1"; "0" when none.
func statusSummary(m map[int]int) string {
	var keys []int
	for k := range m {
		if k < 200 || k > 299 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "0"
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%dx%d", k, m[k]))
	}
	return strings.Join(parts, ",")
}

// rssOf reads a /proc status field (VmRSS, VmHWM) of a process, in bytes;
// -1 when it cannot be read.
func rssOf(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return -1
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// rssSampler tracks the highest VmRSS of a process while a scenario runs.
// Linux's VmHWM covers the whole life of the process, so it cannot tell
// one scenario's peak from another's.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done chan int64
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan int64, 1)}
	go func() {
		peak := rssOf(pid, "VmRSS")
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				if v := rssOf(pid, "VmRSS"); v > peak {
					peak = v
				}
				s.done <- peak
				return
			case <-t.C:
				if v := rssOf(pid, "VmRSS"); v > peak {
					peak = v
				}
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peak (-1 when pid is 0 or unreadable).
func (s *rssSampler) Stop() int64 {
	close(s.stop)
	v := <-s.done
	if s.pid == 0 {
		return -1
	}
	return v
}

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// scenStartup measures the real binary: its size, the time from exec to
// the first 200 from /readyz (cold: a fresh data directory, so the
// database is created and migrated; warm: the same directory again), and
// its RSS after a few idle seconds.
func scenStartup(ctx context.Context, o *options, p *printer) error {
	bin := o.binary
	if bin == "" {
		var err error
		if bin, err = buildPeakvoice(ctx, o.tmp, p); err != nil {
			return err
		}
	}
	st, err := os.Stat(bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(o.tmp, "startup-")
	if err != nil {
		return err
	}
	for _, phase := range []string{"cold", "warm"} {
		r, err := startOnce(ctx, o, bin, dir)
		if err != nil {
			return fmt.Errorf("%s start: %w", phase, err)
		}
		r.Name = "startup-" + phase
		r.note("binary %s (%.1f MiB, not stripped)", filepath.Base(bin), float64(st.Size())/(1<<20))
		p.row(r)
	}
	return nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startOnce(ctx context.Context, o *options, bin, dir string) (*result, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", addr, "--data-dir", dir, "--log-level", "error"}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = os.Environ()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	hc := &http.Client{Timeout: time.Second}
	var ready time.Duration
	for deadline := start.Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		res, err := hc.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				ready = time.Since(start)
				break
			}
		}
	}
	if ready == 0 {
		return nil, fmt.Errorf("not ready within 30s")
	}
	time.Sleep(o.idleWait)
	pid := cmd.Process.Pid
	r := &result{Count: 1, Elapsed: ready, Lat: []time.Duration{ready}, Statuses: map[int]int{200: 1}, PeakRSS: rssOf(pid, "VmHWM")}
	r.set("ready_ms", float64(ready)/float64(time.Millisecond))
	r.set("idle_rss_mib", float64(rssOf(pid, "VmRSS"))/(1<<20))
	r.note("exec → first 200 from /readyz: %s; RSS after %s idle: %s (peak %s)", ms(ready), o.idleWait, mib(rssOf(pid, "VmRSS")), mib(r.PeakRSS))
	return r, nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// op performs one operation (worker w, sequence number i) and reports its
// HTTP status (0 for a transport failure, 200 for a non-HTTP success).
type op func(ctx context.Context, w, i int) int

// runClosed keeps conc workers busy for dur, each starting its next
// operation as soon as the previous one ends, and measures every one.
func runClosed(ctx context.Context, dur time.Duration, conc int, pid int, fn op) *result {
	rec := newRecorder()
	var seq atomic.Int64
	rss := sampleRSS(pid)
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := &workerRec{statuses: map[int]int{}}
			defer rec.merge(wr)
			for ctx.Err() == nil {
				i := int(seq.Add(1))
				t := time.Now()
				st := fn(context.WithoutCancel(ctx), w, i)
				wr.add(time.Since(t), st)
			}
		}()
	}
	wg.Wait()
	r := &result{Count: len(rec.lat), Elapsed: time.Since(start), Lat: rec.lat, Statuses: rec.statuses}
	r.PeakRSS = rss.Stop()
	r.finish()
	return r
}

// runRate starts operations at a fixed rate for dur (open loop), on at
// most maxConc at once. Latency runs from the planned start, so a stalled
// server is charged for the requests queued behind it.
func runRate(ctx context.Context, dur time.Duration, rate float64, maxConc int, pid int, fn op) *result {
	rec := newRecorder()
	rss := sampleRSS(pid)
	interval := time.Duration(float64(time.Second) / rate)
	total := int(dur.Seconds() * rate)
	type job struct {
		i       int
		planned time.Time
	}
	jobs := make(chan job, total+1)
	start := time.Now()
	var wg sync.WaitGroup
	var dropped atomic.Int64
	for w := range maxConc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := &workerRec{statuses: map[int]int{}}
			defer rec.merge(wr)
			for j := range jobs {
				if wait := time.Until(j.planned); wait > 0 {
					time.Sleep(wait)
				}
				if ctx.Err() != nil {
					dropped.Add(1)
					continue
				}
				st := fn(ctx, w, j.i)
				wr.add(time.Since(j.planned), st)
			}
		}()
	}
	for i := range total {
		jobs <- job{i: i, planned: start.Add(time.Duration(i) * interval)}
	}
	close(jobs)
	wg.Wait()
	r := &result{Count: len(rec.lat), Elapsed: time.Since(start), Lat: rec.lat, Statuses: rec.statuses}
	r.PeakRSS = rss.Stop()
	r.finish()
	r.note("open loop at %.0f req/s planned, %d workers; latency counted from each request's planned start", rate, maxConc)
	if n := dropped.Load(); n > 0 {
		r.note("%d planned requests not sent (cancelled)", n)
	}
	return r
}

// client is a keep-alive HTTP client for load.
type client struct {
	hc   *http.Client
	base string
}

func newClient(base string, conns int) *client {
	tr := &http.Transport{
		MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, IdleConnTimeout: 30 * time.Second,
		DisableCompression: true,
	}
	return &client{hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, base: base}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// do sends a request and drains the answer; out, when not nil, receives
// the decoded JSON body. headers are name, value pairs.
func (c *client) do(ctx context.Context, method, path string, body []byte, out any, headers ...string) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: %d %.200s", method, path, res.StatusCode, raw)
		}
	}
	if res.StatusCode >= 300 && out != nil {
		return res.StatusCode, fmt.Errorf("%s %s: %d %.300s", method, path, res.StatusCode, raw)
	}
	return res.StatusCode, nil
}

// status sends a request and returns only its status (0 on failure).
func (c *client) status(ctx context.Context, method, path string, body []byte, headers ...string) int {
	st, err := c.do(ctx, method, path, body, nil, headers...)
	if err != nil && st == 0 {
		return 0
	}
	return st
}

// mustJSON encodes v; the values here always encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

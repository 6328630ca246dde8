package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMain lets the SSE scenario re-run this test binary as its client
// child, as it re-runs pvbench itself.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(sseChild())
	}
	os.Exit(m.Run())
}

// TestSmoke runs every scenario at toy sizes so the tool keeps working.
// It checks that figures are printed, never what they are.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark smoke run skipped in -short mode")
	}
	scenarios := "sms,dv,lookup,calls,list,webhooks,sse,startup"
	if _, err := exec.LookPath("go"); err != nil {
		scenarios = strings.TrimSuffix(scenarios, ",startup") // startup builds the server binary
	}
	args := []string{"--duration", "1s", "--concurrency", "2", "--scenarios", scenarios,
		"--sessions", "20", "--targets-per-session", "3", "--list-calls", "300", "--backlog", "30",
		"--sse-streams", "10", "--sse-events", "5", "--dv-rate", "20", "--idle-wait", "200ms", "--tmp", t.TempDir()}
	if os.Getenv("PEAKVOICE_TEST_POSTGRES_URL") == "" {
		args = append(args, "--engines", "sqlite")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out, errs bytes.Buffer
	if err := run(ctx, args, &out, &errs); err != nil {
		t.Fatalf("pvbench: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errs.String())
	}
	text := out.String()
	t.Log("\n" + text)
	want := []string{"rate/s", "p99", "bare-http", "bare-sqlite-commit", "sms-send", "dv-webhook ", "dv-webhook+session-events",
		"dv-webhook@20/s", "dv-webhook(mix)@20/s", "lookup-tool", "call-create", "calls-list", "webhooks-delivered(api)", "webhooks-delivered(backlog)",
		"sse-streams", "KiB per open stream", "targets (issue 9)"}
	if strings.HasSuffix(scenarios, "startup") {
		want = append(want, "startup-cold", "startup-warm")
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

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

// TestSoakShort is the soak run at CI size: a real server process under
// the mixed load for a short while, on each engine. Unlike the benchmark
// smoke run it does judge: a 5xx to anyone, a transport error, a leaked
// goroutine or open file, a call stream that did not end, an undelivered
// webhook, a job left behind or an unclean SIGTERM fails it. RSS
// flatness needs the long run (docs/reliability.md).
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("soak run skipped in -short mode")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the soak builds the server binary and needs the go tool")
	}
	args := []string{"soak", "--duration", "15s", "--warmup", "5s", "--sample", "5s", "--settle", "2m", "--rate", "15", "--tmp", t.TempDir()}
	if os.Getenv("PEAKVOICE_TEST_POSTGRES_URL") == "" {
		args = append(args, "--engines", "sqlite")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	var out, errs bytes.Buffer
	err := run(ctx, args, &out, &errs)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("soak: %v\nstderr:\n%s", err, errs.String())
	}
	for _, w := range []string{"soak verdict", "zero 5xx answers", "goroutines back to idle", "every call followed to its end"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

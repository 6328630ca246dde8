package auth

import (
	"context"
	"os"
	"testing"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
)

// TestThrottleSharedAcrossProcesses: two throttles on one PostgreSQL
// schema (two replicas) spend from the same per-email bucket; on SQLite
// the throttle stays in memory.
func TestThrottleSharedAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	mem := newThrottle(0.001, 2).sharedIn(dbtest.Open(t, db.Options{DataDir: t.TempDir()}))
	if mem.shared != nil {
		t.Fatal("SQLite throttle is not in memory")
	}
	base := os.Getenv(dbtest.PostgresURLEnv)
	if base == "" {
		t.Skip("needs PostgreSQL (" + dbtest.PostgresURLEnv + ")")
	}
	url := dbtest.FreshSchema(t, base)
	d1 := dbtest.Open(t, db.Options{URL: url, MaxConns: 4})
	d2, err := db.Open(ctx, db.Options{URL: url, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	a, b := newThrottle(0.001, 2).sharedIn(d1), newThrottle(0.001, 2).sharedIn(d2)
	allowed := 0
	for i := range 6 {
		th := a
		if i%2 == 1 {
			th = b
		}
		// A different address each time: only the email's bucket binds.
		_, ok, err := th.allowCtx(ctx, "ada@example.com", "192.0.2."+string(rune('1'+i)))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		}
	}
	if allowed != 2 {
		t.Fatalf("%d attempts allowed across two replicas, want the burst, 2", allowed)
	}
}

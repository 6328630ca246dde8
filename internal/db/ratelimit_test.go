package db_test

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
)

// TestTakeTokensShared: two pools on one schema (two replicas) spend from
// the same buckets; all-or-nothing across several buckets.
func TestTakeTokensShared(t *testing.T) {
	base := os.Getenv(dbtest.PostgresURLEnv)
	if base == "" {
		t.Skip("needs PostgreSQL (" + dbtest.PostgresURLEnv + ")")
	}
	url := dbtest.FreshSchema(t, base)
	d1 := dbtest.Open(t, db.Options{URL: url, MaxConns: 6})
	d2, err := db.Open(context.Background(), db.Options{URL: url, MaxConns: 6})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	ctx := context.Background()
	const burst = 5
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		d := d1
		if i%2 == 1 {
			d = d2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Alternate the order of names: locks are taken sorted anyway.
			keys := []string{"test:x", "test:y"}
			if i%3 == 0 {
				keys = []string{"test:y", "test:x"}
			}
			wait, took, err := d.TakeTokens(ctx, keys, 0.0001, burst)
			if err != nil {
				t.Error(err)
				return
			}
			if took {
				ok.Add(1)
			} else if wait <= 0 {
				t.Errorf("refused without a wait")
			}
		}()
	}
	wg.Wait()
	if ok.Load() != burst {
		t.Fatalf("%d takes succeeded across two pools, want the burst, %d", ok.Load(), burst)
	}
	// y is empty now, so a take of (y, z) spends nothing from z.
	if _, took, err := d1.TakeTokens(ctx, []string{"test:y", "test:z"}, 0.0001, burst); err != nil || took {
		t.Fatalf("take with an empty bucket: %v %v", took, err)
	}
	var z float64
	if err := d1.R.QueryRow(`SELECT tokens FROM rate_buckets WHERE bucket = 'test:z'`).Scan(&z); err != nil || z != burst {
		t.Fatalf("z has %v tokens (%v), want %d untouched", z, err, burst)
	}
	// A fast bucket refills.
	if _, took, _ := d1.TakeTokens(ctx, []string{"test:fast"}, 1e6, 1); !took {
		t.Fatal("fresh bucket refused")
	}
	if _, took, _ := d2.TakeTokens(ctx, []string{"test:fast"}, 1e6, 1); !took {
		t.Fatal("fast bucket did not refill")
	}
}

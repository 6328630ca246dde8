package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// TakeTokens spends one token from each of the named buckets in the
// rate_buckets table, atomically across every process sharing the
// database: either all of them had a token and each loses one, or none is
// touched and wait says how long until all would have one. Buckets hold at
// most burst tokens, start full and refill at perSecond. Time is the
// database's clock, so replicas with skewed clocks agree.
//
// Bucket names start with their kind and a colon (calls:…, login:…); all
// buckets of a kind must share perSecond and burst.
//
// It is meant for PostgreSQL, where several replicas must share limits;
// rows are locked in name order, so concurrent callers never deadlock.
func (d *DB) TakeTokens(ctx context.Context, buckets []string, perSecond float64, burst int) (wait time.Duration, ok bool, err error) {
	if d.Dialect != Postgres {
		return 0, false, errors.New("db: shared rate buckets need PostgreSQL")
	}
	if perSecond <= 0 || burst < 1 || len(buckets) == 0 {
		return 0, false, fmt.Errorf("db: invalid rate bucket (rate %g, burst %d, %d buckets)", perSecond, burst, len(buckets))
	}
	keys := slices.Clone(buckets)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	err = d.Tx(ctx, func(tx *sql.Tx) error {
		var now time.Time
		if err := tx.QueryRowContext(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
			return err
		}
		level := make([]float64, len(keys))
		for i, k := range keys {
			// Create the bucket full if it is new, then lock it.
			if _, err := tx.ExecContext(ctx, `INSERT INTO rate_buckets (bucket, tokens, updated_at) VALUES ($1, $2, $3)
				ON CONFLICT (bucket) DO NOTHING`, k, float64(burst), now); err != nil {
				return err
			}
			var tokens float64
			var at time.Time
			if err := tx.QueryRowContext(ctx, `SELECT tokens, updated_at FROM rate_buckets WHERE bucket = $1 FOR UPDATE`, k).
				Scan(&tokens, &at); err != nil {
				return err
			}
			// The clock is read before the lock; a holder that committed
			// meanwhile may have stamped a later time. Never refill backwards.
			elapsed := math.Max(0, now.Sub(at).Seconds())
			level[i] = math.Min(float64(burst), tokens+elapsed*perSecond)
			if level[i] < 1 {
				wait = max(wait, time.Duration((1-level[i])/perSecond*float64(time.Second)))
			}
		}
		if wait > 0 {
			return nil
		}
		for i, k := range keys {
			if _, err := tx.ExecContext(ctx, `UPDATE rate_buckets SET tokens = $1, updated_at = GREATEST(updated_at, $2) WHERE bucket = $3`,
				level[i]-1, now, k); err != nil {
				return err
			}
		}
		ok = true
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("rate buckets: %w", err)
	}
	// Now and then, forget buckets of the same kind (the name up to its
	// first colon) that have long since refilled: a full bucket and a
	// missing one mean the same.
	if rand.IntN(200) == 0 {
		kind, _, _ := strings.Cut(keys[0], ":")
		idle := float64(burst)/perSecond + 60
		_, _ = d.W.ExecContext(ctx, `DELETE FROM rate_buckets WHERE bucket LIKE $1
			AND updated_at < clock_timestamp() - make_interval(secs => $2)`, kind+":%", idle)
	}
	return wait, ok, nil
}

package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Group commit for SQLite.
//
// SQLite has one writer and every commit with synchronous=FULL waits for an
// fsync, so committing each caller's transaction on its own caps the whole
// process at one fsync per transaction. Instead, callers of Tx queue their
// functions; one committer goroutine (alive only while there is work) opens a
// transaction, hands it to each queued caller in turn — the caller runs its fn
// in its own goroutine, inside a SAVEPOINT of its own — and commits once for
// the whole batch. A fn that fails or panics is rolled back to its savepoint,
// so the others in the batch are unaffected; a caller whose fn succeeded is
// answered only after the batch's COMMIT returned.

// maxGroup bounds how many fns share one commit, so that the first caller of
// a batch does not wait behind an unbounded number of later ones.
const maxGroup = 64

// savepointName is the savepoint each fn runs under. River's subtransactions
// use their own names, so they nest inside it.
const savepointName = "pv_group_fn"

// errBatchAborted is returned to callers whose fn succeeded but whose batch
// could not be committed because SQLite abandoned the transaction while a
// later fn of the batch ran (an interrupted or failed write statement can roll
// back the whole transaction, not just the statement). Nothing of theirs was
// committed; retrying is safe.
var errBatchAborted = errors.New("transaction abandoned by SQLite while another caller's work ran in the same commit; nothing was committed")

const (
	reqQueued int32 = iota
	reqClaimed
	reqAbandoned
)

// groupReq is one caller's fn waiting for its turn.
type groupReq struct {
	state atomic.Int32
	turn  chan *sql.Tx   // the committer hands over the transaction
	ran   chan fnOutcome // the caller reports how its fn went
	done  chan error     // the committer reports the batch's commit
}

type fnOutcome struct {
	ok     bool  // fn succeeded and its savepoint was released
	broken error // non-nil: the transaction is no longer usable
}

type grouper struct {
	w       *sql.DB
	mu      sync.Mutex
	queue   []*groupReq
	running bool // a committer goroutine is active
}

// tx runs fn through the group committer. See DB.Tx for the contract.
func (g *grouper) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &groupReq{
		turn: make(chan *sql.Tx, 1),
		ran:  make(chan fnOutcome, 1),
		done: make(chan error, 1),
	}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if !g.running {
		g.running = true
		go g.commitLoop()
	}
	g.mu.Unlock()

	var tx *sql.Tx
	select {
	case tx = <-r.turn:
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return ctx.Err() // the committer will skip it
		}
		tx = <-r.turn // already claimed: the committer is waiting for us
	}
	if tx == nil {
		// The committer could not open a transaction; done says why.
		return <-r.done
	}
	if err := ctx.Err(); err != nil {
		r.ran <- fnOutcome{} // claimed, but cancelled before fn ran: skip it
		return err
	}
	fnErr, out := runInSavepoint(ctx, tx, fn, r.ran)
	if fnErr != nil {
		return fnErr
	}
	if out.broken != nil {
		return out.broken
	}
	return <-r.done
}

// runInSavepoint runs fn under its own savepoint, releases or rolls it back,
// and reports the outcome on ran before returning (or before re-raising a
// panic from fn, with fn's writes rolled back).
func runInSavepoint(ctx context.Context, tx *sql.Tx, fn func(*sql.Tx) error, ran chan<- fnOutcome) (fnErr error, out fnOutcome) {
	// The savepoint statements use a context that cannot be cancelled: an
	// interrupted ROLLBACK TO would leave the shared transaction in an
	// unknown state.
	bg := context.WithoutCancel(ctx)
	if _, err := tx.ExecContext(bg, "SAVEPOINT "+savepointName); err != nil {
		out = fnOutcome{broken: fmt.Errorf("savepoint: %w", err)}
		ran <- out
		return nil, out
	}
	undo := func() error {
		if _, err := tx.ExecContext(bg, "ROLLBACK TO "+savepointName); err != nil {
			return fmt.Errorf("rollback to savepoint: %w", err)
		}
		if _, err := tx.ExecContext(bg, "RELEASE "+savepointName); err != nil {
			return fmt.Errorf("release savepoint: %w", err)
		}
		return nil
	}
	panicked := true
	defer func() {
		if !panicked {
			return
		}
		// fn panicked (or called runtime.Goexit): undo its writes, let the
		// committer go on, and carry on unwinding in this goroutine.
		p := recover()
		out = fnOutcome{broken: undo()}
		ran <- out
		if p != nil {
			panic(p)
		}
	}()
	fnErr = fn(tx)
	panicked = false
	if fnErr != nil {
		// A failed RELEASE or ROLLBACK TO means SQLite already abandoned the
		// whole transaction (the savepoint is gone with it).
		out = fnOutcome{broken: undo()}
		ran <- out
		return fnErr, out
	}
	if _, err := tx.ExecContext(bg, "RELEASE "+savepointName); err != nil {
		out = fnOutcome{broken: fmt.Errorf("release savepoint: %w", err)}
		ran <- out
		return nil, out
	}
	out = fnOutcome{ok: true}
	ran <- out
	return nil, out
}

// next takes the oldest queued request that nobody abandoned, or nil when the
// queue is empty. When stop is set and the queue is empty, the committer
// goroutine is marked finished under the same lock, so a caller that queues
// afterwards starts a new one.
func (g *grouper) next(stop bool) *groupReq {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.queue) > 0 {
		r := g.queue[0]
		g.queue[0] = nil
		g.queue = g.queue[1:]
		if r.state.CompareAndSwap(reqQueued, reqClaimed) {
			return r
		}
	}
	g.queue = nil
	if stop {
		g.running = false
	}
	return nil
}

// commitLoop runs batches until the queue is empty.
func (g *grouper) commitLoop() {
	for {
		first := g.next(true)
		if first == nil {
			return
		}
		g.batch(first)
	}
}

// batch opens a transaction, runs first and then further queued fns (up to
// maxGroup) in it, and commits. It never waits for callers to arrive: when
// the queue is empty it commits what it has.
func (g *grouper) batch(first *groupReq) {
	// The transaction belongs to no single caller, so no caller's context
	// may end it.
	tx, err := g.w.BeginTx(context.Background(), nil)
	if err != nil {
		first.turn <- nil
		first.done <- fmt.Errorf("begin: %w", err)
		return
	}
	var waiting []*groupReq // fns that succeeded, awaiting the commit
	var broken error
	r := first
	for n := 0; r != nil; n++ {
		r.turn <- tx
		out := <-r.ran
		if out.ok {
			waiting = append(waiting, r)
		}
		if out.broken != nil {
			broken = out.broken
			break
		}
		if n+1 >= maxGroup {
			break
		}
		r = g.next(false)
	}
	if broken != nil {
		_ = tx.Rollback()
		err := fmt.Errorf("commit: %w (%v)", errBatchAborted, broken)
		for _, w := range waiting {
			w.done <- err
		}
		return
	}
	if len(waiting) == 0 {
		_ = tx.Rollback() // every fn failed or skipped: nothing to commit
		return
	}
	if err := tx.Commit(); err != nil {
		err = fmt.Errorf("commit: %w", err)
		for _, w := range waiting {
			w.done <- err
		}
		return
	}
	for _, w := range waiting {
		w.done <- nil
	}
}

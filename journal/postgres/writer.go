package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The writer sends the store's writes. Writing calls queue an op and
// wait; a writer goroutine takes every op queued (up to the batch cap),
// sends their statements as one pgx.Batch — one pipeline, one round trip,
// one implicit transaction — and answers each caller once the batch has
// committed: group commit over the network. A few writer goroutines (see
// WithWriters), each on its own connection, keep batches in flight while
// the next ones fill.
//
// An op checks and writes in one statement and answers a failed check
// (ErrLeaseLost, ErrNotFound, ...) having written nothing, so it fails
// alone while its batch commits. An error from the server (a constraint,
// a deadlock) aborts the whole transaction: then the writer sends the
// batch's ops again, one transaction each, so that only the failing op
// fails. When the connection breaks mid-batch, or the batch times out,
// whether it committed cannot be known: every op in it fails with the
// error, and none is sent again.

type writer struct {
	pool    *pgxpool.Pool
	ops     chan *op
	stopped chan struct{} // closed when every writer goroutine returned
	max     int
	now     func() time.Time // nil: the database's clock
	timeout time.Duration
	channel string // the notification channel

	// For tests and benchmarks: batches sent (round trips, fallbacks
	// included), transactions committed and ops they carried.
	batches, commits, committed atomic.Int64
}

func newWriter(pool *pgxpool.Pool, o *options, channel string) *writer {
	return &writer{
		pool:    pool,
		ops:     make(chan *op, max(4*o.batch, 1024)),
		stopped: make(chan struct{}),
		max:     o.batch,
		now:     o.now,
		timeout: o.writeTimeout,
		channel: channel,
	}
}

// start runs n writer goroutines until ops is closed and drained.
func (w *writer) start(n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(w.loop)
	}
	go func() {
		wg.Wait()
		close(w.stopped)
	}()
}

func (w *writer) loop() {
	batch := make([]*op, 0, w.max)
	for o := range w.ops {
		batch = w.fill(append(batch[:0], o))
		// The callers answered last time are runnable, about to queue
		// their next write: let them, and take it in this batch rather
		// than in a small one of its own. Stop when the batch is full or
		// the queue stops growing.
		for n := 0; len(batch) < w.max && n != len(batch); {
			n = len(batch)
			runtime.Gosched()
			batch = w.fill(batch)
		}
		w.run(batch)
		clear(batch) // drop references to answered ops
	}
}

// fill adds to batch the ops queued, up to the cap, without waiting.
func (w *writer) fill(batch []*op) []*op {
	for len(batch) < w.max {
		select {
		case o, ok := <-w.ops:
			if !ok {
				return batch
			}
			batch = append(batch, o)
		default:
			return batch
		}
	}
	return batch
}

// run commits a batch and answers every op in it.
func (w *writer) run(batch []*op) {
	live := batch[:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opTaken) {
			live = append(live, o)
		}
	}
	if len(live) == 0 {
		return
	}
	// Ops go in the order of the runs they write (claims, which name no
	// run, first), so that two batches lock the rows they share in the
	// same order and never wait for each other in a cycle. The callers of
	// a batch wait for it together: its order is theirs to choose.
	slices.SortStableFunc(live, func(a, b *op) int { return strings.Compare(a.run, b.run) })
	errs, err := w.send(live)
	switch {
	case err == nil:
	case rolledBack(err) && len(live) > 1:
		// Find the op that failed: one transaction each.
		for i := range live {
			one, err := w.send(live[i : i+1])
			errs[i] = cmp.Or(err, one[0])
		}
	default:
		for i := range errs {
			errs[i] = err
		}
	}
	for i, o := range live {
		o.done <- errs[i]
	}
}

// lazySQL makes a batch whose ops are all lazy (releases) commit without
// waiting for the server's disk: its commit is visible at once, and made
// durable by the server's WAL writer within a fraction of a second, or by
// the next commit that waits (the log is written in order); only a crash
// of the server in between forgets it. A lone run's release, one commit
// of seven, thus costs a round trip rather than a flush.
const lazySQL = `SELECT set_config('synchronous_commit', 'off', true)`

// rolledBack reports whether a batch that failed with err certainly did
// not commit: the server refused one of its statements, which aborts
// the implicit transaction, and not, say, the connection broke.
func rolledBack(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

// send runs ops in one batch. It returns each op's journal error when the
// batch committed, or the batch's error.
func (w *writer) send(ops []*op) ([]error, error) {
	errs := make([]error, len(ops))
	ctx := context.Background()
	if w.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.timeout)
		defer cancel()
	}
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return errs, fmt.Errorf("postgres: write: %w", err) // nothing sent
	}
	defer conn.Release()

	var now any // NULL: the database's clock
	if w.now != nil {
		now = w.now().UnixNano()
	}
	b := &pgx.Batch{}
	lazy := true
	for _, o := range ops {
		lazy = lazy && o.lazy
	}
	if lazy {
		b.Queue(lazySQL)
	}
	wakes := false
	for _, o := range ops {
		o.queue(b, now)
		wakes = wakes || o.wakes
	}
	if wakes {
		b.Queue(notifySQL, w.channel)
	}

	w.batches.Add(1)
	br := conn.SendBatch(ctx, b)
	var first error // the first error that is not a journal answer
	if lazy {
		if _, err := br.Exec(); err != nil {
			first = fmt.Errorf("postgres: write: %w", err)
		}
	}
	for i, o := range ops {
		if first != nil {
			break
		}
		if errs[i] = o.read(br); errs[i] != nil && !expected(errs[i]) {
			first = errs[i]
		}
	}
	if err := br.Close(); first == nil && err != nil {
		first = fmt.Errorf("postgres: write: %w", err)
	}
	if first != nil {
		if !rolledBack(first) {
			first = fmt.Errorf("%w (whether the batch committed is unknown)", first)
		}
		return errs, first
	}
	w.commits.Add(1)
	w.committed.Add(int64(len(ops)))
	return errs, nil
}

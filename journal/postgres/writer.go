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
// wait; whoever holds one of the writer's slots takes every op queued
// (up to the batch cap), sends their statements as one pgx.Batch — one
// pipeline, one round trip, one implicit transaction — and answers each
// caller once the batch has committed: group commit over the network.
// There are as many slots as writers (see WithWriters), each sending on
// its own connection from the pool, so that several batches may be in
// flight while the next ones fill.
//
// A caller that finds a slot free sends the batch from its own
// goroutine: a lone writer pays no hand-off to another goroutine and
// back. It sends one batch, then leaves what is queued to the writer's
// goroutines, so that no caller waits on other callers' writes for
// longer than one round trip. A caller that finds every slot held leaves
// its op to the holders: each looks at the queue once it released its
// slot, and wakes a writer's goroutine if an op is waiting.
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
	slots   chan struct{} // one per writer: held while a batch fills and is sent
	wake    chan struct{} // buffered (1): ops are queued and may have no one to send them
	quit    chan struct{} // closed by Close, after ops
	stopped chan struct{} // closed when every writer goroutine returned
	max     int
	now     func() time.Time // nil: the database's clock
	timeout time.Duration
	channel string // the notification channel

	last atomic.Int64 // how many ops the last batch carried

	// The runs whose writes the last batch committed and whose drivers
	// go on (see linger), and how long a batch takes (a moving average,
	// in nanoseconds).
	emu       sync.Mutex
	expect    map[string]struct{}
	batchTime atomic.Int64

	// For tests and benchmarks: batches sent (round trips, fallbacks
	// included), transactions committed, ops they carried, batches sent
	// by a caller (see lead); hooks called when a caller finds every slot
	// held and before a slot is released.
	batches, commits, committed, led atomic.Int64
	onBusy, onRelease                func()
}

func newWriter(pool *pgxpool.Pool, o *options, channel string) *writer {
	return &writer{
		pool:    pool,
		ops:     make(chan *op, max(4*o.batch, 1024)),
		slots:   make(chan struct{}, max(o.writers, 1)),
		expect:  make(map[string]struct{}),
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
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

// loop is a writer's goroutine: it sends the ops queued when woken, and
// every op left once Close closed ops (and quit), then returns.
func (w *writer) loop() {
	batch := make([]*op, 0, w.max)
	for {
		select {
		case <-w.wake:
			batch = w.drain(batch)
		case <-w.quit:
			w.drain(batch)
			return
		}
	}
}

// drain takes a slot, waiting for one, and sends batches until no op is
// queued.
func (w *writer) drain(batch []*op) []*op {
	w.slots <- struct{}{}
	for {
		batch = w.gather(batch[:0])
		if len(batch) == 0 {
			break
		}
		w.run(batch)
		clear(batch) // drop references to answered ops
	}
	w.handOff()
	return batch
}

// lead sends one batch of the queued ops from the caller's goroutine if a
// slot is free, and returns at once otherwise.
func (w *writer) lead() {
	select {
	case w.slots <- struct{}{}:
	default:
		if w.onBusy != nil {
			w.onBusy()
		}
		return // a holder takes the op, or sees it queued once done
	}
	var buf [8]*op
	if batch := w.gather(buf[:0]); len(batch) > 0 {
		w.run(batch)
		w.led.Add(1)
	}
	w.handOff()
}

// handOff releases a slot. Then it looks at the queue, and wakes a
// writer's goroutine if an op is waiting there: one queued by a caller
// that found every slot held is seen here, or its caller took a slot
// itself.
func (w *writer) handOff() {
	if w.onRelease != nil {
		w.onRelease()
	}
	<-w.slots
	if len(w.ops) > 0 {
		w.signal()
	}
}

// signal wakes a writer's goroutine, unless one is woken already.
func (w *writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// gather fills batch with the ops queued, up to the cap. When others
// write too (the batch or the last one holds more than one op), it lets
// the callers answered by the last batch, runnable and about to queue
// their next write, queue it, and takes it in this batch rather than in
// a small one of its own; it stops when the batch is full or the queue
// stops growing. A lone writer does not yield: no one would queue. When
// ops are left queued, it wakes a writer's goroutine to send them while
// this batch is in flight.
func (w *writer) gather(batch []*op) []*op {
	batch = w.fill(batch)
	if len(batch) == 0 {
		return batch
	}
	if len(batch) > 1 || w.last.Load() > 1 {
		for n := 0; len(batch) < w.max && n != len(batch); {
			n = len(batch)
			runtime.Gosched()
			batch = w.fill(batch)
		}
		batch = w.linger(batch)
	}
	w.last.Store(int64(len(batch)))
	if len(w.ops) > 0 {
		w.signal()
	}
	return batch
}

// linger waits for the next write of each run whose write the last
// batch committed (and which did not end there), for up to half as long
// as a batch takes. Without it, the runs of a worker split into two
// groups that take turns, one group's batch in flight while the other's
// fills, and every batch carries half of them; with it, they share one
// batch, and one commit.
func (w *writer) linger(batch []*op) []*op {
	w.emu.Lock()
	missing := len(w.expect)
	for _, o := range batch {
		if _, ok := w.expect[o.run]; ok {
			missing--
		}
	}
	w.emu.Unlock()
	d := time.Duration(w.batchTime.Load()) / 2
	if missing <= 0 || len(batch) >= w.max || d <= 0 {
		return batch
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for missing > 0 && len(batch) < w.max {
		select {
		case o, ok := <-w.ops:
			if !ok {
				return batch
			}
			batch = append(batch, o)
			w.emu.Lock()
			if _, ok := w.expect[o.run]; ok {
				missing--
			}
			w.emu.Unlock()
		case <-t.C:
			return batch
		}
	}
	return batch
}

// expectNext records the runs of ops, just committed, whose drivers go
// on writing (see linger).
func (w *writer) expectNext(ops []*op, errs []error) {
	w.emu.Lock()
	defer w.emu.Unlock()
	clear(w.expect)
	for i, o := range ops {
		if o.run != "" && !o.wakes && errs[i] == nil {
			w.expect[o.run] = struct{}{}
		}
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
	start := time.Now()
	errs, err := w.send(live)
	if bt := w.batchTime.Load(); bt == 0 {
		w.batchTime.Store(int64(time.Since(start)))
	} else {
		w.batchTime.Store(bt + (int64(time.Since(start))-bt)/8)
	}
	switch {
	case err == nil:
	case rolledBack(err) && len(live) > 1:
		// Find the op that failed: one transaction each.
		for i := range live {
			one, err := w.send(live[i : i+1])
			errs[i] = cmp.Or(err, one[0])
		}
	default:
		// The write the batch failed at gets the error; the others say
		// so, naming their own run rather than that write's.
		at := slices.IndexFunc(errs, func(e error) bool { return e != nil && !expected(e) })
		for i := range errs {
			if at < 0 || i == at {
				errs[i] = err
			} else {
				errs[i] = fmt.Errorf("postgres: %s: the batch it went in failed at another write: %w", live[i].what(), err)
			}
		}
	}
	w.expectNext(live, errs)
	for i, o := range live {
		o.done <- errs[i]
	}
}

// what names the write an op makes, for an error.
func (o *op) what() string {
	if o.run == "" {
		return "claim"
	}
	return fmt.Sprintf("write of run %q", o.run)
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

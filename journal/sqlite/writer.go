package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// The writer holds the one connection that writes to the database.
// Writing calls queue an op and wait; whoever holds the writer's token
// (the calling goroutine itself when no one else is writing, the
// writer's own goroutine otherwise) opens a transaction, runs the ops as
// it takes them from the queue, and commits when the queue is empty (or
// at the batch cap), so callers that write at the same time share one
// fsync: group commit. Running an op as soon as it is taken, rather than
// gathering a batch first, overlaps the SQL with the callers' work
// between two writes, and the batch grows with the load.
//
// A caller that finds the token free runs the transaction on its own
// goroutine: a lone writer pays no hand-off to another goroutine and
// back. It runs one transaction, then leaves what is queued to the
// writer's goroutine, so that no caller waits on other callers' writes
// for longer than one commit. A caller that finds the token held leaves
// its op to the holder, which takes it in its transaction or, having
// released the token, sees it queued and wakes the writer's goroutine.
//
// An op checks before it writes (the run exists, the lease is owner's)
// and returns a journal error, such as ErrLeaseLost, before writing
// anything, so it fails alone and the others in its batch commit. An
// unexpected error (I/O, a constraint) may come after an op wrote part
// of its rows: then the transaction is rolled back and its ops run again
// one transaction each, so that only the failing op fails.

// An op is one queued write. fn runs inside a transaction, on the
// goroutine that holds the writer's token; now is the op's time in Unix
// nanoseconds, read when it runs, once the transaction holds the write
// lock. fn may run twice (see above), so it must set its results, not add
// to them.
type op struct {
	fn    func(w *writer, now int64) error
	done  chan error // buffered: the writer never blocks on it
	state atomic.Int32
}

// Op states: a caller that gives up waiting cancels its op unless the
// writer took it first; then it waits for the outcome.
const (
	opQueued int32 = iota
	opTaken
	opCanceled
)

type writer struct {
	ops     chan *op
	wake    chan struct{} // buffered (1): ops are queued and no one may run them
	quit    chan struct{} // closed by Close, after ops
	stopped chan struct{}
	max     int
	now     func() time.Time

	// token guards the connection and everything below it: its holder
	// alone runs transactions.
	token sync.Mutex
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	batch []*op
	errs  []error
	last  int // how many ops the last commit carried

	// leases caches what holds needs of the runs this writer leased or
	// created, so that a step's Append skips the read. It is emptied when
	// another connection (another process) committed since ours
	// (data_version), on a rollback, and per run by every op that changes
	// a lease other than Create, which fills it, and by an Append that
	// releases the lease: it holds the runs being driven, not every run
	// this process ever wrote.
	leases  map[string]leaseRow
	version int64

	// For tests: transactions committed, ops they carried, transactions
	// run by a caller (see lead); hooks called when a caller finds the
	// token held and before the token is released.
	commits, committed, led atomic.Int64
	onBusy, onRelease       func()
}

func newWriter(conn *sql.Conn, batch int, now func() time.Time) *writer {
	return &writer{
		conn:    conn,
		ops:     make(chan *op, max(4*batch, 1024)),
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
		max:     batch,
		now:     now,
		stmts:   make(map[string]*sql.Stmt),
		batch:   make([]*op, 0, batch),
		errs:    make([]error, 0, batch),
		leases:  make(map[string]leaseRow),
		version: -1,
	}
}

// leaseRow is a run's lease and last Seq, as the writer last knew them.
type leaseRow struct {
	owner                  string
	expiry, token, lastSeq int64
}

// loop is the writer's goroutine: it runs the ops queued when woken, and
// every op left once Close closed ops (and quit), then returns.
func (w *writer) loop() {
	defer close(w.stopped)
	for {
		select {
		case <-w.wake:
			w.drain()
		case <-w.quit:
			w.drain()
			return
		}
	}
}

// drain takes the token, waiting for its holder, and commits until no
// op is queued.
func (w *writer) drain() {
	w.token.Lock()
	for w.commit() {
	}
	w.handOff()
}

// lead runs one transaction of the queued ops on the caller's goroutine
// if no one else holds the token, and returns at once otherwise. Ops
// queued after its transaction took its last one are left to the
// writer's goroutine; so are those of callers that found the token held.
func (w *writer) lead() {
	if !w.token.TryLock() {
		if w.onBusy != nil {
			w.onBusy()
		}
		return // the holder takes the op, or sees it queued once done
	}
	if w.commit() {
		w.led.Add(1)
	}
	w.handOff()
}

// handOff gives the token back. Then it looks at the queue, and wakes
// the writer's goroutine if an op is waiting there: one queued by a
// caller that found the token held is seen here, or its caller took the
// token itself. A holder that gives the token back without looking (the
// writer's goroutine too, once it found the queue empty) could leave
// such an op waiting for the next write.
func (w *writer) handOff() {
	if w.onRelease != nil {
		w.onRelease()
	}
	w.token.Unlock()
	if len(w.ops) > 0 {
		select {
		case w.wake <- struct{}{}:
		default: // woken already
		}
	}
}

// commit takes the next op queued and runs it, with those queued
// meanwhile, in one transaction, and answers them; it reports whether
// there was an op to run. The caller holds the token.
func (w *writer) commit() bool {
	o := w.first()
	if o == nil {
		return false
	}
	w.batch, w.errs = w.run(append(w.batch[:0], o), w.errs[:0])
	clear(w.batch) // drop references to answered ops
	return true
}

// first takes the next op queued, nil when none is.
func (w *writer) first() *op {
	for {
		select {
		case o, ok := <-w.ops:
			if !ok {
				return nil
			}
			if o.take() {
				return o
			}
		default:
			return nil
		}
	}
}

// take marks o taken by the writer, unless its caller canceled it first.
func (o *op) take() bool { return o.state.CompareAndSwap(opQueued, opTaken) }

// next takes the next op queued, nil when none is. When the queue is
// empty and others write too (the batch so far or the last one carried
// more than one op) it yields once first: the callers answered by the
// last commit are runnable, about to queue their next write, and it is
// cheaper to take it in this transaction than in one of its own. A lone
// writer does not yield: no one would queue, and the yield would cost it
// a wake-up of another thread.
func (w *writer) next(batch int) *op {
	if o := w.first(); o != nil || (batch <= 1 && w.last <= 1) {
		return o
	}
	runtime.Gosched()
	return w.first()
}

// run runs in one transaction the ops of batch (taken already), then
// every op queued meanwhile, up to the batch cap, and answers them all.
// An op runs as soon as the writer takes it, while the callers answered
// by the last commit queue their next writes; the transaction commits
// when the queue is empty.
func (w *writer) run(batch []*op, errs []error) ([]*op, []error) {
	err := w.tx(func() error {
		for i := 0; ; i++ {
			if i == len(batch) {
				if len(batch) == w.max {
					return nil
				}
				o := w.next(len(batch))
				if o == nil {
					return nil
				}
				batch = append(batch, o)
			}
			// An op's time is read when it runs, inside the transaction,
			// which holds the write lock (it may have waited for another
			// process): a lease is checked against the time the check is
			// made, and granted from it.
			errs = append(errs, batch[i].fn(w, w.now().UnixNano()))
			if err := errs[i]; err != nil && !expected(err) {
				return err
			}
		}
	})
	switch {
	case err == nil:
		w.last = len(batch)
		w.commits.Add(1)
		w.committed.Add(int64(len(batch)))
	case len(batch) == 1:
		errs = append(errs[:0], err)
	default:
		// Find the op that failed: one transaction each.
		errs = errs[:0]
		for _, o := range batch {
			errs = append(errs, w.tx(func() error { return o.fn(w, w.now().UnixNano()) }))
		}
	}
	for i, o := range batch {
		o.done <- errs[i]
	}
	return batch, errs
}

// tx runs fn in a write transaction. It commits if fn returns nil or an
// expected error (which wrote nothing), and returns fn's error; it rolls
// back on any other error.
func (w *writer) tx(fn func() error) error {
	if _, err := w.exec("BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	var version int64
	if err := w.queryRow("PRAGMA data_version", []any{&version}); err != nil || version != w.version {
		clear(w.leases) // another process wrote (or we cannot tell)
		w.version = version
	}
	err := fn()
	if err != nil && !expected(err) {
		w.rollback()
		return err
	}
	if _, cerr := w.exec("COMMIT"); cerr != nil {
		w.rollback()
		return fmt.Errorf("sqlite: commit: %w", cerr)
	}
	return err
}

func (w *writer) rollback() {
	clear(w.leases)
	// After some failures SQLite has rolled back already; then ROLLBACK
	// fails with "no transaction is active", which is fine.
	_, _ = w.exec("ROLLBACK")
}

// expected reports whether err is an answer of the journal contract,
// returned before the op wrote anything.
func expected(err error) bool {
	return errors.Is(err, journal.ErrNotFound) || errors.Is(err, journal.ErrExists) ||
		errors.Is(err, journal.ErrLeaseLost) || errors.Is(err, journal.ErrFinal)
}

// stmt returns the writer's prepared statement for query.
func (w *writer) stmt(query string) (*sql.Stmt, error) {
	if s, ok := w.stmts[query]; ok {
		return s, nil
	}
	s, err := w.conn.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = s
	return s, nil
}

func (w *writer) exec(query string, args ...any) (sql.Result, error) {
	s, err := w.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(context.Background(), args...)
}

func (w *writer) query(query string, args ...any) (*sql.Rows, error) {
	s, err := w.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(context.Background(), args...)
}

// queryRow runs a query for one row; its error, if any, comes from Scan.
func (w *writer) queryRow(query string, dest []any, args ...any) error {
	s, err := w.stmt(query)
	if err != nil {
		return err
	}
	return s.QueryRowContext(context.Background(), args...).Scan(dest...)
}

// close releases the writer's statements and connection; call it after
// loop returned: no op is left then, and none can be queued.
func (w *writer) close() error {
	var errs []error
	for _, s := range w.stmts {
		errs = append(errs, s.Close())
	}
	errs = append(errs, w.conn.Close())
	return errors.Join(errs...)
}

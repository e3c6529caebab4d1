package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// The writer is the one goroutine that writes to the database. Writing
// calls queue an op and wait; the writer opens a transaction, runs the
// ops as it takes them from the queue, and commits when the queue is
// empty (or at the batch cap), so callers that write at the same time
// share one fsync: group commit. Running an op as soon as it is taken,
// rather than gathering a batch first, overlaps the writer's SQL with the
// callers' work between two writes, and the batch grows with the load.
//
// An op checks before it writes (the run exists, the lease is owner's)
// and returns a journal error, such as ErrLeaseLost, before writing
// anything, so it fails alone and the others in its batch commit. An
// unexpected error (I/O, a constraint) may come after an op wrote part
// of its rows: then the writer rolls the batch back and runs its ops
// again one transaction each, so that only the failing op fails.

// An op is one queued write. fn runs on the writer's goroutine inside a
// transaction; now is the op's time in Unix nanoseconds, read when it
// runs, once the transaction holds the write lock. fn may run twice (see
// above), so it must set its results, not add to them.
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
	conn    *sql.Conn
	ops     chan *op
	stopped chan struct{}
	max     int
	now     func() time.Time
	stmts   map[string]*sql.Stmt

	// leases caches what holds needs of the runs this writer leased or
	// created, so that a step's Append skips the read. It is emptied when
	// another connection (another process) committed since ours
	// (data_version), on a rollback, and per run by every op that changes
	// a lease other than Create, which fills it, and by an Append that
	// releases the lease: it holds the runs being driven, not every run
	// this process ever wrote.
	leases  map[string]leaseRow
	version int64

	// For tests: transactions committed and ops they carried.
	commits, committed atomic.Int64
}

func newWriter(conn *sql.Conn, batch int, now func() time.Time) *writer {
	return &writer{
		conn:    conn,
		ops:     make(chan *op, max(4*batch, 1024)),
		stopped: make(chan struct{}),
		max:     batch,
		now:     now,
		stmts:   make(map[string]*sql.Stmt),
		leases:  make(map[string]leaseRow),
		version: -1,
	}
}

// leaseRow is a run's lease and last Seq, as the writer last knew them.
type leaseRow struct {
	owner                  string
	expiry, token, lastSeq int64
}

// loop runs until ops is closed and drained.
func (w *writer) loop() {
	defer close(w.stopped)
	batch := make([]*op, 0, w.max)
	errs := make([]error, 0, w.max)
	for o := range w.ops {
		if !o.take() {
			continue // its caller gave up: nothing to write
		}
		batch, errs = w.run(append(batch[:0], o), errs[:0])
		clear(batch) // drop references to answered ops
	}
}

// take marks o taken by the writer, unless its caller canceled it first.
func (o *op) take() bool { return o.state.CompareAndSwap(opQueued, opTaken) }

// next takes the next op queued, nil when none is. When the queue is
// empty it yields once first: the callers answered by the last commit are
// runnable, about to queue their next write, and it is cheaper to take it
// in this transaction than in one of its own.
func (w *writer) next() *op {
	for yielded := false; ; yielded = true {
		select {
		case o, ok := <-w.ops:
			if !ok {
				return nil
			}
			if o.take() {
				return o
			}
			continue // canceled: skip it
		default:
		}
		if yielded {
			return nil
		}
		runtime.Gosched()
	}
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
				o := w.next()
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
// loop returned.
func (w *writer) close() error {
	var errs []error
	for _, s := range w.stmts {
		errs = append(errs, s.Close())
	}
	errs = append(errs, w.conn.Close())
	return errors.Join(errs...)
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/sagakit/sagakit/internal/nanotime"
	"github.com/sagakit/sagakit/journal"
)

// Store is a [journal.Store] in a SQLite file. It is safe for concurrent
// use, and for use by several processes on one file (each Store has its
// own writer; SQLite's file lock orders them). Create a Store with
// [Open] and Close it when done.
type Store struct {
	w      *writer
	wdb    *sql.DB // the writer's single connection
	rdb    *sql.DB // the read-only pool
	mu     sync.RWMutex
	closed bool // guarded by mu; sends on w.ops happen under mu.RLock
	wake   journal.Broadcast
}

var (
	_ journal.Store    = (*Store)(nil)
	_ journal.Signaler = (*Store)(nil)
)

// Open opens the SQLite database at path, creating the file if needed,
// and brings its schema up to date. It fails if the file's schema is
// newer than this package knows and needs newer code (see the package
// documentation, "Schema"). The path is a file name (":memory:"
// and names with '?' are refused: the store opens several connections).
//
// Several goroutines or processes may open the same file at once, new or
// not: a step of Open (switching the file to WAL mode, migrating its
// schema, the first read) that finds the file locked by another
// connection is tried again, after a short backoff, until ctx ends or
// the busy timeout (see [WithBusyTimeout]) has passed since that step
// began.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: bad database path %q: want a file name", path)
	}
	o := buildOptions(opts)
	if o.noMigrate {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	retry := func(step func() error) error { return retryBusy(ctx, o.busyTimeout, step) }
	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", o.busyTimeout.Milliseconds())
	// No journal_mode here: the switch to WAL is a step of its own, so
	// that it can be retried (see useWAL).
	wdb, err := sql.Open("sqlite", path+"?"+busy+
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	var conn *sql.Conn
	if err := retry(func() (err error) { conn, err = wdb.Conn(ctx); return err }); err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	fail := func(err error) (*Store, error) {
		_ = conn.Close()
		_ = wdb.Close()
		return nil, err
	}
	if o.noMigrate {
		// Look before anything is written: useWAL would switch a file
		// that is not a journal to WAL mode.
		if err := retry(func() error { return checkSchema(ctx, conn) }); err != nil {
			return fail(fmt.Errorf("sqlite: open %s: %w", path, err))
		}
	}
	if err := retry(func() error { return useWAL(ctx, conn) }); err != nil {
		return fail(fmt.Errorf("sqlite: open %s: %w", path, err))
	}
	if !o.noMigrate {
		if err := retry(func() error { return migrate(ctx, conn) }); err != nil {
			return fail(err)
		}
	}

	rdb, err := sql.Open("sqlite", path+"?"+busy+"&_pragma=query_only(1)")
	if err != nil {
		return fail(fmt.Errorf("sqlite: open %s for reading: %w", path, err))
	}
	rdb.SetMaxOpenConns(o.readers)
	rdb.SetMaxIdleConns(o.readers)
	// A read, not a ping: the first connection to read a WAL file may
	// find another one rebuilding the file's WAL index.
	if err := retry(func() error {
		var v int
		return rdb.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	}); err != nil {
		_ = rdb.Close()
		return fail(fmt.Errorf("sqlite: open %s for reading: %w", path, err))
	}

	s := &Store{w: newWriter(conn, o.batch, o.now), wdb: wdb, rdb: rdb}
	go s.w.loop()
	return s, nil
}

// Close finishes the writes already queued, stops the writer and closes
// the database. Calls after Close fail with [journal.ErrClosed].
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return journal.ErrClosed
	}
	s.closed = true
	close(s.w.ops)
	s.mu.Unlock()
	close(s.w.quit)
	<-s.w.stopped
	err := errors.Join(s.w.close(), s.wdb.Close(), s.rdb.Close())
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// now returns the store's current time in Unix nanoseconds.
func (s *Store) now() int64 { return s.w.now().UnixNano() }

// reading takes s.mu for reading unless the store is closed; the caller
// must RUnlock if it returns true. Close waits for reads in flight.
func (s *Store) reading() bool {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return false
	}
	return true
}

// do queues fn for the writer and waits for its outcome. If ctx ends
// first and the writer has not taken the op yet, the op is dropped and do
// returns ctx's error; once taken, do waits for the commit, so a nil
// error always means the write is durable and a non-nil one that it did
// not happen (or, for an I/O error, may not have).
func (s *Store) do(ctx context.Context, fn func(w *writer, now int64) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{fn: fn, done: make(chan error, 1)}
	if !s.reading() {
		return journal.ErrClosed
	}
	select {
	case s.w.ops <- o:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.w.lead()
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opCanceled) {
			return ctx.Err()
		}
		return <-o.done
	}
}

// Input errors.
var (
	errEmptyID    = errors.New("sqlite: empty run ID")
	errEmptyOwner = errors.New("sqlite: empty lease owner")
	errEmptyVerb  = errors.New("sqlite: request without a verb")
	errBadTTL     = errors.New("sqlite: lease duration must be positive")
)

// Create implements [journal.Store.Create]. An entry with a zero At gets
// the current time; its Seq is assigned.
func (s *Store) Create(ctx context.Context, run journal.Run, entries ...journal.Entry) error {
	if run.ID == "" {
		return errEmptyID
	}
	if !nanotime.Fits(run.Ended) || !nanotime.Fits(run.LeaseExpiry) || !nanotime.Fits(run.Wait.Until) {
		return fmt.Errorf("sqlite: create %q: time out of range", run.ID)
	}
	if err := checkEntries(entries); err != nil {
		return fmt.Errorf("sqlite: create %q: %w", run.ID, err)
	}
	err := s.do(ctx, func(w *writer, now int64) error { return w.create(&run, entries, now) })
	if err == nil && run.Status.Unfinished() && run.LeaseOwner == "" {
		s.wake.Fire()
	}
	return err
}

// Append implements [journal.Store.Append]. An entry with a zero At gets
// the current time. An Update that sets the run waiting decides in the
// same transaction whether a signal it waits for has arrived already.
// One that releases the lease wakes this process's workers, as Release
// does.
func (s *Store) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	if runID == "" {
		return errEmptyID
	}
	if owner == "" {
		return errEmptyOwner
	}
	if u.Wait != nil && !nanotime.Fits(u.Wait.Until) {
		return fmt.Errorf("sqlite: append to %q: wait deadline %v out of range", runID, u.Wait.Until)
	}
	if err := checkEntries(entries); err != nil {
		return fmt.Errorf("sqlite: append to %q: %w", runID, err)
	}
	err := s.do(ctx, func(w *writer, now int64) error { return w.append(runID, owner, &u, entries, now) })
	if err == nil && u.Release {
		s.wake.Fire()
	}
	return err
}

func checkEntries(entries []journal.Entry) error {
	for i := range entries {
		if !nanotime.Fits(entries[i].At) {
			return fmt.Errorf("entry %d: time %v out of range", i, entries[i].At)
		}
	}
	return nil
}

// Claim implements [journal.Store.Claim]. It takes the oldest runs first.
func (s *Store) Claim(ctx context.Context, owner string, ttl time.Duration, n int) ([]journal.Run, error) {
	if owner == "" {
		return nil, errEmptyOwner
	}
	if ttl <= 0 {
		return nil, errBadTTL
	}
	if n <= 0 {
		if !s.reading() {
			return nil, journal.ErrClosed
		}
		s.mu.RUnlock()
		return nil, nil
	}
	var runs []journal.Run
	err := s.do(ctx, func(w *writer, now int64) error {
		var err error
		runs, err = w.claim(owner, now+int64(ttl), n, now)
		return err
	})
	return runs, err
}

// Acquire implements [journal.Store.Acquire].
func (s *Store) Acquire(ctx context.Context, runID, owner string, ttl time.Duration) (journal.Run, error) {
	if runID == "" {
		return journal.Run{}, errEmptyID
	}
	if owner == "" {
		return journal.Run{}, errEmptyOwner
	}
	if ttl <= 0 {
		return journal.Run{}, errBadTTL
	}
	var run journal.Run
	err := s.do(ctx, func(w *writer, now int64) error {
		var err error
		run, err = w.acquire(runID, owner, int64(ttl), now)
		return err
	})
	return run, err
}

// Renew implements [journal.Store.Renew]. A lease that has expired is
// lost, even if no one claimed the run since.
func (s *Store) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	if runID == "" {
		return errEmptyID
	}
	if owner == "" {
		return errEmptyOwner
	}
	if ttl <= 0 {
		return errBadTTL
	}
	return s.do(ctx, func(w *writer, now int64) error { return w.renew(runID, owner, int64(ttl), now) })
}

// Release implements [journal.Store.Release]. Releasing a lease on a run
// that does not exist is not an error either.
func (s *Store) Release(ctx context.Context, runID, owner string) error {
	if runID == "" {
		return errEmptyID
	}
	if owner == "" {
		return errEmptyOwner
	}
	err := s.do(ctx, func(w *writer, _ int64) error { return w.release(runID, owner) })
	if err == nil {
		s.wake.Fire()
	}
	return err
}

// Request implements [journal.Store.Request]. The RequestMade entry
// carries the request's Step and Note; the header's Note becomes the
// request's.
func (s *Store) Request(ctx context.Context, runID string, r journal.Request) error {
	if runID == "" {
		return errEmptyID
	}
	if r.Verb == "" {
		return errEmptyVerb
	}
	err := s.do(ctx, func(w *writer, now int64) error { return w.request(runID, &r, now) })
	if err == nil {
		s.wake.Fire()
	}
	return err
}

// Wakeups implements [journal.Waker] within this process: a pending run
// created, a request recorded, a lease released or a waiting run woken by
// a signal through this Store wakes the channel's reader. Other processes sharing the file are not
// woken; their workers find such runs at their next poll.
func (s *Store) Wakeups(ctx context.Context) <-chan struct{} { return s.wake.Wakeups(ctx) }

var _ journal.Waker = (*Store)(nil)

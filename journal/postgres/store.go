package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sagakit/sagakit/internal/nanotime"
	"github.com/sagakit/sagakit/journal"
)

// Store is a [journal.Store] in a PostgreSQL schema, for a fleet of
// workers sharing one database: leases on the database's clock, claims
// with FOR UPDATE SKIP LOCKED, fenced writes, group commit and wake-ups
// by LISTEN/NOTIFY (see the package documentation). It is safe for
// concurrent use. Create a Store with [Open] or [New] and Close it when
// done.
type Store struct {
	pool    *pgxpool.Pool
	owned   bool   // Close closes the pool
	dsn     string // the pool's DSN, password masked, for errors
	schema  string
	sql     *statements
	w       *writer
	l       *listener
	testNow func() time.Time // WithNow's clock; nil in production
	// callerNow is the caller's clock, from which Create takes a lease's
	// duration; tests skew it.
	callerNow func() time.Time

	mu     sync.RWMutex
	closed bool // guarded by mu; sends on w.ops happen under mu.RLock
}

var (
	_ journal.Store    = (*Store)(nil)
	_ journal.Waker    = (*Store)(nil)
	_ journal.Signaler = (*Store)(nil)
)

// Open connects to the server at dsn (a postgres:// URL or a
// keyword/value string, as pgx takes it, pool settings such as
// pool_max_conns included), brings the store's schema up to date and
// returns a Store that owns its pool: Close closes it.
//
// Open fails, rather than hang, if the server cannot be reached within
// the connect timeout (see [WithConnectTimeout]) or refuses the
// credentials; its errors name the DSN with its password masked. It
// fails too if the schema was migrated by a newer version of this
// package to a version that this one cannot work on (see the package
// documentation, "Schema and migrations").
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	shown, hidden := redactDSN(dsn), secrets(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, scrub(fmt.Errorf("postgres: bad DSN %s: %w", shown, err), hidden)
	}
	hidden = append(hidden, secrets("", cfg.ConnConfig.Password)...)
	if o.timeoutSet || cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = max(o.connectTimeout, 0)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, scrub(fmt.Errorf("postgres: open %s: %w", shown, err), hidden)
	}
	s, err := start(ctx, pool, true, shown, &o)
	if err != nil {
		pool.Close()
		return nil, scrub(err, hidden)
	}
	return s, nil
}

// New returns a Store on the caller's pool, bringing the store's schema
// up to date as [Open] does. Close leaves the pool open. The store takes
// up to as many connections at once as it has writers (see
// [WithWriters]), besides those of reads; Wakeups opens one more
// connection of its own, outside the pool.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: nil pool")
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	cfg := pool.Config()
	s, err := start(ctx, pool, false, redactDSN(cfg.ConnString()), &o)
	if err != nil {
		return nil, scrub(err, secrets(cfg.ConnString(), cfg.ConnConfig.Password))
	}
	return s, nil
}

// start checks that the server answers, migrates the schema and starts
// the writers.
func start(ctx context.Context, pool *pgxpool.Pool, owned bool, dsn string, o *options) (*Store, error) {
	pctx := ctx
	if o.connectTimeout > 0 {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, o.connectTimeout)
		defer cancel()
	}
	if err := pool.Ping(pctx); err != nil {
		if ctx.Err() == nil && pctx.Err() != nil {
			err = fmt.Errorf("no answer within %v: %w", o.connectTimeout, err)
		}
		return nil, fmt.Errorf("postgres: connect to %s: %w", dsn, err)
	}
	if o.noMigrate {
		if err := checkSchema(ctx, pool, o.schema); err != nil {
			return nil, fmt.Errorf("postgres: open schema %q at %s: %w", o.schema, dsn, err)
		}
	} else if err := migrate(ctx, pool, o.schema); err != nil {
		return nil, fmt.Errorf("postgres: migrate schema %q at %s: %w", o.schema, dsn, err)
	}
	s := &Store{
		pool:    pool,
		owned:   owned,
		dsn:     dsn,
		schema:  o.schema,
		sql:     newStatements(o.schema),
		testNow: o.now,

		callerNow: time.Now,
	}
	channel := "sagakit_" + o.schema
	s.w = newWriter(pool, o, channel)
	s.w.start(o.writers)
	s.l = newListener(pool.Config().ConnConfig, channel)
	return s, nil
}

// Close finishes the writes already queued, stops the writers and the
// listener, and closes the pool if [Open] made it. Calls after Close fail
// with [journal.ErrClosed].
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
	s.l.close()
	if s.owned {
		s.pool.Close()
	}
	return nil
}

// reading takes s.mu for reading unless the store is closed; the caller
// must RUnlock if it returns true. Close waits for the calls in flight.
func (s *Store) reading() bool {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return false
	}
	return true
}

// do queues o for a writer and waits for its outcome. If ctx ends first
// and no writer has taken the op yet, the op is dropped and do returns
// ctx's error; once taken, do waits for the batch's end, so a nil error
// always means the write committed.
func (s *Store) do(ctx context.Context, o *op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.done = make(chan error, 1)
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

// Create implements [journal.Store.Create]. An entry with a zero At gets
// the current time; its Seq is assigned.
//
// The lease expiry is kept on the database's clock: Create takes the
// lease's duration as run.LeaseExpiry minus the caller's current time
// and records the database's now plus that duration. A caller whose clock
// is off thus still gets the lease it meant, no longer; a LeaseExpiry in
// the caller's past records a lease that has already expired, and a zero
// one none that is live.
func (s *Store) Create(ctx context.Context, run journal.Run, entries ...journal.Entry) error {
	if run.ID == "" {
		return errEmptyID
	}
	if !nanotime.Fits(run.Ended) || !nanotime.Fits(run.LeaseExpiry) {
		return fmt.Errorf("postgres: create %q: time out of range", run.ID)
	}
	if err := checkEntries(entries); err != nil {
		return fmt.Errorf("postgres: create %q: %w", run.ID, err)
	}
	var ttl *int64
	if !run.LeaseExpiry.IsZero() {
		now := s.callerNow
		if s.testNow != nil {
			now = s.testNow
		}
		d := int64(run.LeaseExpiry.Sub(now()))
		ttl = &d
	}
	return s.do(ctx, s.createOp(&run, ttl, entries))
}

// Append implements [journal.Store.Append]. An entry with a zero At gets
// the current time. The lease is checked, on the database's clock, in
// the statement that writes, with its token when u.Lease is not 0. An
// Update with Status [journal.Waiting] and a Wait sets the run waiting,
// its deadline on the database's clock, and woken if a signal it waits
// for is there already (see [Store.Signal]).
func (s *Store) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	if runID == "" {
		return errEmptyID
	}
	if owner == "" {
		return errEmptyOwner
	}
	if err := checkEntries(entries); err != nil {
		return fmt.Errorf("postgres: append to %q: %w", runID, err)
	}
	if u.Wait != nil && !nanotime.Fits(u.Wait.Until) {
		return fmt.Errorf("postgres: append to %q: wait deadline %v out of range", runID, u.Wait.Until)
	}
	return s.do(ctx, s.appendOp(runID, owner, &u, entries))
}

func checkEntries(entries []journal.Entry) error {
	for i := range entries {
		if !nanotime.Fits(entries[i].At) {
			return fmt.Errorf("entry %d: time %v out of range", i, entries[i].At)
		}
	}
	return nil
}

// Claim implements [journal.Store.Claim]. It takes the oldest runs
// first, skipping those another transaction holds, and leases them until
// the database's now plus ttl. Waiting runs count once woken, or once
// their deadline has passed on the database's clock; of these, when more
// fell due than it takes, it takes those that fell due first.
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
	err := s.do(ctx, s.claimOp(owner, ttl, n, &runs))
	return runs, err
}

// Acquire implements [journal.Store.Acquire], on the database's clock.
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
	err := s.do(ctx, s.acquireOp(runID, owner, ttl, &run))
	return run, err
}

// Renew implements [journal.Store.Renew], on the database's clock. A
// lease that has expired is lost, even if no one claimed the run since.
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
	return s.do(ctx, s.renewOp(runID, owner, ttl))
}

// Release implements [journal.Store.Release]. Releasing a lease on a run
// that does not exist is not an error either. It wakes the store's
// listeners (see [Store.Wakeups]).
func (s *Store) Release(ctx context.Context, runID, owner string) error {
	if runID == "" {
		return errEmptyID
	}
	if owner == "" {
		return errEmptyOwner
	}
	return s.do(ctx, s.releaseOp(runID, owner))
}

// Request implements [journal.Store.Request]. The RequestMade entry
// carries the request's Step and Note; the header's Note becomes the
// request's. It wakes the store's listeners (see [Store.Wakeups]).
func (s *Store) Request(ctx context.Context, runID string, r journal.Request) error {
	if runID == "" {
		return errEmptyID
	}
	if r.Verb == "" {
		return errEmptyVerb
	}
	return s.do(ctx, s.requestOp(runID, &r))
}

// Signal implements [journal.Signaler.Signal]: in one transaction, it
// records sig for the run, its At the current time, and wakes the run if
// it waits for sig.Event, which notifies the store's listeners (see
// [Store.Wakeups]). It needs no lease. A delivery recorded for the run
// before is not recorded again (false, nil), even once the run has
// ended; otherwise Signal fails with [journal.ErrNotFound], and with
// [journal.ErrFinal] for a run whose status is final, recording nothing.
//
// Signal and an Append that sets the run waiting serialise on the run's
// row, so that a signal sent while the run parks wakes it either way.
func (s *Store) Signal(ctx context.Context, runID string, sig journal.Signal) (bool, error) {
	if runID == "" {
		return false, errEmptyID
	}
	var recorded bool
	if err := s.do(ctx, s.signalOp(runID, &sig, &recorded)); err != nil {
		return false, err
	}
	return recorded, nil
}

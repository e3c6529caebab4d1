package durable_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
	"github.com/sagakit/sagakit/saga"
)

// Workers whose clocks are off, on PostgreSQL. Leases live on the
// database's clock: a worker gives the store durations, never times, for
// its leases (Claim, Renew), and the store compares and extends them with
// the server's now. These tests put engines on one schema, a healthy one
// and others whose clock runs minutes ahead or behind, and check through
// durable's API that the skewed ones can neither take a live lease nor
// keep a dead one, and that every step runs once.
//
// A skewed worker is an engine whose store is a production one (the
// database's clock) wrapped in skewedStore: every time the worker hands
// the store (entries' At, which becomes a run's Ended) is on its own
// clock, minutes off. The engine's own timers (heartbeat, give-up) count
// durations, which a clock set minutes off does not change. A store
// opened with postgres.WithNow(the worker's clock) instead would put the
// leases themselves on the worker's clock: that is what these tests must
// catch, and do (each fails with it).

// clockSkew is how far off the skewed workers' clocks are: more than any lease
// here, so that leases reckoned on such a clock would be seen as expired
// (ahead) or alive (behind) at once.
const clockSkew = 5 * time.Minute

// skewSteps are the steps of the tests' saga.
var skewSteps = []string{"reserve", "charge", "ship"}

type skewOrder struct {
	Done []string
}

// skewWorld is the outside world of the tests' runs: it counts every
// execution of every step and compensation, by run, step and the engine
// that ran it, and holds one engine's step at a gate.
type skewWorld struct {
	mu    sync.Mutex
	execs map[string][]string // "run/step" or "run/undo step": the owners that ran it, in order
	gate  *skewGate
}

// skewGate holds the step Step of the engine Owner until released.
type skewGate struct {
	Owner, Step string
	entered     chan string // the run's ID, once the step is held
	open        chan struct{}
	once        sync.Once
}

func (g *skewGate) release() { g.once.Do(func() { close(g.open) }) }

func newSkewWorld() *skewWorld { return &skewWorld{execs: map[string][]string{}} }

// hold makes the engine owner's step wait, after its effect, until the
// gate is released; the test's cleanup releases it.
func (w *skewWorld) hold(t *testing.T, owner, step string) *skewGate {
	g := &skewGate{Owner: owner, Step: step, entered: make(chan string, 1), open: make(chan struct{})}
	w.mu.Lock()
	w.gate = g
	w.mu.Unlock()
	t.Cleanup(g.release)
	return g
}

// ran records that owner ran what, and returns the gate.
func (w *skewWorld) ran(owner, what string) *skewGate {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.execs[what] = append(w.execs[what], owner)
	return w.gate
}

// saga returns the tests' saga as the engine owner registers it: the
// same steps everywhere (one fingerprint), each recording who ran it.
func (w *skewWorld) saga(owner string) *saga.Saga[skewOrder] {
	b := saga.New[skewOrder]().Name("skew")
	for _, name := range skewSteps {
		b.Step(name, func(ctx context.Context, o *skewOrder) error {
			run := saga.RunID(ctx)
			g := w.ran(owner, run+"/"+name)
			o.Done = append(o.Done, name)
			if g != nil && g.Owner == owner && g.Step == name {
				select {
				case g.entered <- run:
				default:
				}
				<-g.open
			}
			return nil
		}, func(ctx context.Context, _ *skewOrder) error {
			w.ran(owner, saga.RunID(ctx)+"/undo "+name)
			return nil
		})
	}
	return b.Build()
}

// check fails t unless each of the runs ran each step exactly once, by
// the engine by(run) names if by is not nil, and compensated nothing.
func (w *skewWorld) check(t *testing.T, runs []string, by func(run string) string) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	want := map[string]bool{}
	for _, run := range runs {
		for _, step := range skewSteps {
			what := run + "/" + step
			want[what] = true
			owners := w.execs[what]
			switch {
			case len(owners) != 1:
				t.Errorf("%s ran %d times (by %v), want once", what, len(owners), owners)
			case by != nil && owners[0] != by(run):
				t.Errorf("%s ran in %s, want %s", what, owners[0], by(run))
			}
		}
	}
	for what, owners := range w.execs {
		if !want[what] {
			t.Errorf("%s ran (by %v): it should not have", what, owners)
		}
	}
}

// skewedStore is the journal as a worker whose clock is off by skew uses
// it: the times it hands the store are on its clock. A run's lease
// expiry, the one absolute time that concerns a lease (Create, for
// Definition.Run), is left as it is: the store takes its duration against
// the caller's clock, which in a skewed process is off alike (see
// journal/postgres's lease tests). With a freeze, the worker's journal
// writes and renewals stall until thawed, whatever their context says:
// the process is frozen, its timers with it.
type skewedStore struct {
	*postgres.Store // and its wake-ups
	skew            time.Duration
	freeze          *skewFreeze // nil: never frozen
}

// skewFreeze stalls a skewedStore's Appends and Renews.
type skewFreeze struct {
	appending, renewing chan struct{} // an Append (a Renew) is stalled
	appends, renews     chan struct{} // closed: let them through
	once                [2]sync.Once
}

func newSkewFreeze(t *testing.T) *skewFreeze {
	f := &skewFreeze{
		appending: make(chan struct{}, 1), renewing: make(chan struct{}, 1),
		appends: make(chan struct{}), renews: make(chan struct{}),
	}
	t.Cleanup(func() { f.thawAppends(); f.thawRenews() })
	return f
}

func (f *skewFreeze) thawAppends() { f.once[0].Do(func() { close(f.appends) }) }
func (f *skewFreeze) thawRenews()  { f.once[1].Do(func() { close(f.renews) }) }

func (s *skewedStore) shift(entries []journal.Entry) []journal.Entry {
	out := make([]journal.Entry, len(entries))
	for i, e := range entries {
		if !e.At.IsZero() {
			e.At = e.At.Add(s.skew)
		}
		out[i] = e
	}
	return out
}

func (s *skewedStore) Create(ctx context.Context, run journal.Run, entries ...journal.Entry) error {
	if !run.Ended.IsZero() {
		run.Ended = run.Ended.Add(s.skew)
	}
	return s.Store.Create(ctx, run, s.shift(entries)...)
}

func (s *skewedStore) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	if f := s.freeze; f != nil {
		select {
		case f.appending <- struct{}{}:
		default:
		}
		<-f.appends
	}
	return s.Store.Append(ctx, runID, owner, u, s.shift(entries)...)
}

func (s *skewedStore) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	f := s.freeze
	if f == nil {
		return s.Store.Renew(ctx, runID, owner, ttl)
	}
	select {
	case f.renewing <- struct{}{}:
	default:
	}
	<-f.renews
	return s.Store.Renew(ctx, runID, owner, ttl)
}

// renewCounter is a store that tells when a renewal succeeded.
type renewCounter struct {
	*postgres.Store
	renewed chan struct{}
}

func (s *renewCounter) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	err := s.Store.Renew(ctx, runID, owner, ttl)
	if err == nil {
		select {
		case s.renewed <- struct{}{}:
		default:
		}
	}
	return err
}

// skewDB is a schema of the test's own on the server of
// SAGAKIT_POSTGRES_DSN, dropped when the test ends, and a connection to
// read the server's clock. It skips the test without the variable (fails
// it, with SAGAKIT_REQUIRE_POSTGRES=1).
type skewDB struct {
	dsn, schema string
	conn        *pgx.Conn
}

func newSkewDB(t *testing.T) *skewDB {
	t.Helper()
	dsn := os.Getenv("SAGAKIT_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("SAGAKIT_REQUIRE_POSTGRES") == "1" {
			t.Fatal("PostgreSQL required (SAGAKIT_REQUIRE_POSTGRES=1) but SAGAKIT_POSTGRES_DSN is not set")
		}
		t.Skip("skewed-clock workers need PostgreSQL, whose clock the leases are on: set SAGAKIT_POSTGRES_DSN, " +
			"e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("PostgreSQL at SAGAKIT_POSTGRES_DSN: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := &skewDB{dsn: dsn, schema: "durable_skew_" + hex.EncodeToString(b), conn: conn}
	t.Cleanup(func() {
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{db.schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", db.schema, err)
		}
	})
	return db
}

// open opens a store on the schema, with a pool of its own, as a replica
// would; it is closed before the schema is dropped.
func (db *skewDB) open(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), db.dsn, postgres.WithSchema(db.schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// skewed opens the store of a worker whose clock is off by d.
func (db *skewDB) skewed(t *testing.T, d time.Duration) *skewedStore {
	return &skewedStore{Store: db.open(t), skew: d}
}

// untilLeaseEnds waits until the lease on run id has expired on the
// database's clock.
func (db *skewDB) untilLeaseEnds(t *testing.T, store journal.Store, id string) {
	t.Helper()
	ctx := t.Context()
	for {
		v, err := durable.Inspect(ctx, store, id)
		if err != nil {
			t.Fatal(err)
		}
		var now time.Time
		if err := db.conn.QueryRow(ctx, "SELECT statement_timestamp()").Scan(&now); err != nil {
			t.Fatal(err)
		}
		if !now.Before(v.Run.LeaseExpiry) {
			return
		}
		time.Sleep(v.Run.LeaseExpiry.Sub(now) + time.Millisecond)
	}
}

func mustRegister(t *testing.T, e *durable.Engine, w *skewWorld) *durable.Definition[skewOrder] {
	t.Helper()
	d, err := durable.Register(e, w.saga(e.Owner()))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustStart(t *testing.T, d *durable.Definition[skewOrder], id string) {
	t.Helper()
	if _, err := d.Start(saga.WithRunID(t.Context(), id), &skewOrder{}); err != nil {
		t.Fatal(err)
	}
}

func mustSucceed(t *testing.T, e *durable.Engine, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rep, err := e.Wait(ctx, id)
	if err != nil {
		t.Fatalf("run %s: %v", id, err)
	}
	if rep.Status != saga.StatusSucceeded {
		t.Fatalf("run %s is %s, want succeeded", id, rep.Status)
	}
}

// TestSkewAheadCannotTakeALiveLease: a worker whose clock runs minutes
// ahead finds no run to claim while a healthy worker is in the middle of
// a step of the only one, before its lease is renewed and after: the
// lease is live on the database's clock, whatever the ahead worker's
// says. The run, started by the ahead worker, then ends with each step
// run once, by the healthy worker.
func TestSkewAheadCannotTakeALiveLease(t *testing.T) {
	t.Parallel()
	db := newSkewDB(t)
	ctx := t.Context()
	w := newSkewWorld()
	healthyStore := &renewCounter{Store: db.open(t), renewed: make(chan struct{}, 1)}
	healthy := durable.NewEngine(healthyStore, durable.WithOwner("healthy"), durable.WithLeaseTTL(3*time.Second))
	ahead := durable.NewEngine(db.skewed(t, clockSkew), durable.WithOwner("ahead"), durable.WithLeaseTTL(3*time.Second))
	mustRegister(t, healthy, w)
	mustStart(t, mustRegister(t, ahead, w), "r1")

	g := w.hold(t, "healthy", "charge")
	driven := make(chan error, 1)
	go func() {
		n, err := healthy.Recover(ctx, 1)
		if err == nil && n != 1 {
			err = fmt.Errorf("the healthy worker claimed %d runs, want 1", n)
		}
		driven <- err
	}()
	if run := <-g.entered; run != "r1" {
		t.Fatalf("the healthy worker holds %s, want r1", run)
	}
	tryToSteal := func(when string) {
		t.Helper()
		n, err := ahead.Recover(ctx, 10)
		if err != nil || n != 0 {
			t.Fatalf("%s: the ahead worker claimed %d runs (%v), want none: the healthy worker's lease is live", when, n, err)
		}
		v, err := durable.Inspect(ctx, ahead.Store(), "r1")
		if err != nil {
			t.Fatal(err)
		}
		if v.Run.LeaseOwner != "healthy" || v.Run.Status != journal.Running {
			t.Fatalf("%s: run r1 is %s, leased to %q; want running, leased to healthy", when, v.Run.Status, v.Run.LeaseOwner)
		}
	}
	tryToSteal("mid-step")
	<-healthyStore.renewed // the heartbeat renewed the lease, on the database's clock
	tryToSteal("mid-step, lease renewed")

	g.release()
	if err := <-driven; err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, ahead, "r1")
	w.check(t, []string{"r1"}, func(string) string { return "healthy" })
}

// TestSkewBehindCannotKeepAnExpiredLease: a worker whose clock runs
// minutes behind claims a run, then stalls (frozen: neither its journal
// write nor its heartbeat goes out) until its lease has expired on the
// database's clock. Its clock says the lease has minutes left; the
// database's says it is over: the worker's next write, its first step's
// start, fails with journal.ErrLeaseLost, and it stops without running a
// step. A healthy worker then carries the run out, each step once.
func TestSkewBehindCannotKeepAnExpiredLease(t *testing.T) {
	t.Parallel()
	db := newSkewDB(t)
	ctx := t.Context()
	w := newSkewWorld()
	behindStore := db.skewed(t, -clockSkew)
	behind := durable.NewEngine(behindStore, durable.WithOwner("behind"), durable.WithLeaseTTL(time.Second))
	healthy := durable.NewEngine(db.open(t), durable.WithOwner("healthy"), durable.WithLeaseTTL(3*time.Second))
	mustStart(t, mustRegister(t, behind, w), "r2")
	mustRegister(t, healthy, w)

	f := newSkewFreeze(t)
	behindStore.freeze = f
	driven := make(chan error, 1)
	go func() {
		n, err := behind.Recover(ctx, 1)
		if n != 1 {
			err = fmt.Errorf("the behind worker claimed %d runs (%v), want 1", n, err)
		}
		driven <- err
	}()
	<-f.appending // it holds r2, and is about to journal its first step's start
	<-f.renewing  // its heartbeat is stalled too
	v, err := durable.Inspect(ctx, healthy.Store(), "r2")
	if err != nil {
		t.Fatal(err)
	}
	if v.Run.LeaseOwner != "behind" {
		t.Fatalf("run r2 is leased to %q, want behind", v.Run.LeaseOwner)
	}
	db.untilLeaseEnds(t, healthy.Store(), "r2")

	f.thawAppends()
	err = <-driven
	if !errors.Is(err, journal.ErrLeaseLost) {
		t.Fatalf("the behind worker's write after its lease expired: %v, want journal.ErrLeaseLost", err)
	}
	w.check(t, nil, nil) // it ran no step
	f.thawRenews()

	if n, err := healthy.Recover(ctx, 10); err != nil || n != 1 {
		t.Fatalf("the healthy worker claimed %d runs (%v), want r2", n, err)
	}
	mustSucceed(t, behind, "r2")
	w.check(t, []string{"r2"}, func(string) string { return "healthy" })
}

// TestSkewFleetRunsEachStepOnce: a healthy worker and two whose clocks
// run minutes ahead and behind drain runs started by all three, with
// Engine.Work: every run succeeds, each step run once and nothing
// compensated.
func TestSkewFleetRunsEachStepOnce(t *testing.T) {
	t.Parallel()
	db := newSkewDB(t)
	w := newSkewWorld()
	var engines []*durable.Engine
	var defs []*durable.Definition[skewOrder]
	for _, s := range []struct {
		owner string
		store journal.Store
	}{{"healthy", db.open(t)}, {"ahead", db.skewed(t, clockSkew)}, {"behind", db.skewed(t, -clockSkew)}} {
		e := durable.NewEngine(s.store, durable.WithOwner(s.owner), durable.WithLeaseTTL(5*time.Second),
			durable.WithConcurrency(4))
		engines = append(engines, e)
		defs = append(defs, mustRegister(t, e, w))
	}
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for _, e := range engines {
		wg.Go(func() {
			if err := e.Work(ctx, 50*time.Millisecond); !errors.Is(err, context.Canceled) {
				t.Errorf("%s: Work: %v", e.Owner(), err)
			}
		})
	}
	var runs []string
	for i := range 30 {
		id := fmt.Sprintf("r%02d", i)
		mustStart(t, defs[i%len(defs)], id)
		runs = append(runs, id)
	}
	for i, id := range runs {
		mustSucceed(t, engines[(i+1)%len(engines)], id)
	}
	stop()
	wg.Wait()
	w.check(t, runs, nil)
}

package durable_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
)

// Durable waits on every store: memory, SQLite (a file in t.TempDir) and
// PostgreSQL (a schema of the test's own, when SAGAKIT_POSTGRES_DSN names
// a server). Each scenario runs on a database of its own, through handles
// opened on it as separate processes would: a second sqlite.Open of the
// same file, a second postgres.Store on the same schema.

// awaitDB is one database of a store kind, fresh for one test.
type awaitDB interface {
	// handle opens a store on the database that reads the current time
	// from now (nil: the store's own clock); the test closes it when it
	// ends. A memory database has one store: every handle is the first
	// one, on the first handle's clock.
	handle(t *testing.T, now func() time.Time) journal.Store
	// down closes a handle, as a worker process that stops does.
	down(s journal.Store)
}

// awaitKinds are the stores the scenarios run on.
var awaitKinds = []struct {
	name  string
	newDB func(t *testing.T) awaitDB
}{
	{"memory", func(*testing.T) awaitDB { return &awaitMemDB{} }},
	{"sqlite", func(t *testing.T) awaitDB { return awaitSQLiteDB(filepath.Join(t.TempDir(), "journal.db")) }},
	{"postgres", newAwaitPostgresDB},
}

type awaitMemDB struct{ m *journal.Memory }

func (db *awaitMemDB) handle(_ *testing.T, now func() time.Time) journal.Store {
	if db.m == nil {
		db.m = journal.NewMemory(journal.WithClock(now))
	}
	return db.m
}

func (db *awaitMemDB) down(journal.Store) {} // closing it would drop the runs

type awaitSQLiteDB string // the file's path

func (db awaitSQLiteDB) handle(t *testing.T, now func() time.Time) journal.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), string(db), sqlite.WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (db awaitSQLiteDB) down(s journal.Store) { _ = s.Close() }

type awaitPostgresDB struct{ *skewDB }

// newAwaitPostgresDB makes a schema of the test's own on the server of
// SAGAKIT_POSTGRES_DSN, dropped when the test ends (skewDB's). It skips
// the test without the variable (fails it, with
// SAGAKIT_REQUIRE_POSTGRES=1).
func newAwaitPostgresDB(t *testing.T) awaitDB {
	t.Helper()
	if os.Getenv("SAGAKIT_POSTGRES_DSN") == "" && os.Getenv("SAGAKIT_REQUIRE_POSTGRES") != "1" {
		t.Skip("durable waits on PostgreSQL need a server: set SAGAKIT_POSTGRES_DSN, " +
			"e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	return awaitPostgresDB{newSkewDB(t)}
}

func (db awaitPostgresDB) handle(t *testing.T, now func() time.Time) journal.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), db.dsn, postgres.WithSchema(db.schema), postgres.WithNow(now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (awaitPostgresDB) down(s journal.Store) { _ = s.Close() }

// TestAwaitOnStores runs each scenario on each store.
func TestAwaitOnStores(t *testing.T) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, db awaitDB)
	}{
		{"EventAfterWait", awaitEventAfterWait},
		{"EventBeforeWait", awaitEventBeforeWait},
		{"SameDeliveryTwice", awaitSameDeliveryTwice},
		{"SignalRefused", awaitSignalRefused},
		{"Deadline", awaitDeadline},
		{"SignalAtDeadline", awaitSignalAtDeadline},
		{"SleepWhileNoWorker", awaitSleepWhileNoWorker},
		{"ThousandWaiting", awaitThousand},
	}
	for _, kind := range awaitKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) { sc.run(t, kind.newDB(t)) })
			}
		})
	}
}

// storeShop is the shop saga (see await_test.go) on an engine over a
// handle of db, on a clock the test moves.
type storeShop struct {
	store journal.Store
	clk   *clock
	e     *durable.Engine
	d     *durable.Definition[Shop]
	c     counter
}

func newStoreShop(t *testing.T, db awaitDB) *storeShop {
	t.Helper()
	s := &storeShop{clk: newClock()}
	s.store = db.handle(t, s.clk.now)
	s.e = durable.NewEngine(s.store, durable.WithLeaseTTL(ttl))
	d, err := durable.Register(s.e, shopSaga(&s.c))
	if err != nil {
		t.Fatal(err)
	}
	s.d = d
	return s
}

// recover drives what needs a worker, once.
func (s *storeShop) recover(t *testing.T) int {
	t.Helper()
	n, err := s.e.Recover(context.Background(), 0)
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	return n
}

func (s *storeShop) signals(t *testing.T, runID string) []journal.Signal {
	t.Helper()
	sigs, err := s.store.(journal.Signaler).Signals(context.Background(), runID)
	if err != nil {
		t.Fatalf("signals of %s: %v", runID, err)
	}
	return sigs
}

// park runs the shop saga to its wait on run id.
func (s *storeShop) park(t *testing.T, id string) {
	t.Helper()
	_, err := s.d.Run(saga.WithRunID(context.Background(), id), &Shop{})
	if !errors.Is(err, durable.ErrWaiting) {
		t.Fatalf("run %s: %v, want it waiting", id, err)
	}
}

func awaitEventAfterWait(t *testing.T, db awaitDB) {
	is := is.New(t)
	ctx := context.Background()
	s := newStoreShop(t, db)
	s.park(t, "order-1")
	run := mustLoad(t, s.store, "order-1")
	is.Equal(run.Status, journal.Waiting)
	is.Equal(run.LeaseOwner, "") // holds nothing
	is.Equal(run.Wait.Event, "paid")
	is.True(!run.Wait.Woken && !run.Wait.Due)
	if want := s.clk.now().Add(30 * time.Minute); !run.Wait.Until.Equal(want) { // on the store's clock
		t.Fatalf("deadline %v, want %v", run.Wait.Until, want)
	}
	is.Equal(s.recover(t), 0) // nothing to do until the event comes

	is.NoErr(s.e.Signal(ctx, "order-1", "paid", Payment{ID: "pay-7", Amount: 5}))
	is.True(mustLoad(t, s.store, "order-1").Wait.Woken)
	is.Equal(s.recover(t), 1)
	run = mustLoad(t, s.store, "order-1")
	is.Equal(run.Status, journal.Succeeded)
	is.Equal(run.Wait, journal.Wait{})
	is.Equal(s.c.get("reserve"), 1)
	is.Equal(s.c.get("pay"), 2) // before the wait, and when woken
	is.Equal(s.c.get("paid"), 1)
	is.Equal(s.c.get("ship"), 1)
	rep, err := s.e.Wait(ctx, "order-1")
	is.NoErr(err)
	is.Equal(rep.Status, saga.StatusSucceeded)
	view, err := durable.Inspect(ctx, s.store, "order-1")
	is.NoErr(err)
	is.True(strings.Contains(string(view.State), `"PaymentID":"pay-7"`))
	is.Equal(len(s.signals(t, "order-1")), 0) // consumed
	_, entries, err := s.store.Load(ctx, "order-1")
	is.NoErr(err)
	is.True(containsKind(entries, journal.StepWaiting))
	is.True(containsKind(entries, journal.WaitEnded))
}

func awaitEventBeforeWait(t *testing.T, db awaitDB) {
	is := is.New(t)
	ctx := context.Background()
	s := newStoreShop(t, db)
	id, err := s.d.Start(saga.WithRunID(ctx, "order-2"), &Shop{})
	is.NoErr(err)
	is.NoErr(s.e.Signal(ctx, id, "paid", Payment{ID: "early"}))
	is.Equal(len(s.signals(t, id)), 1) // kept for the wait to come
	is.Equal(s.recover(t), 1)
	is.Equal(mustLoad(t, s.store, id).Status, journal.Succeeded)
	is.Equal(s.c.get("pay"), 1) // never waited: ran once
	is.Equal(s.c.get("paid"), 1)
	_, entries, err := s.store.Load(ctx, id)
	is.NoErr(err)
	is.True(!containsKind(entries, journal.StepWaiting))
	is.True(containsKind(entries, journal.WaitEnded))
	is.Equal(len(s.signals(t, id)), 0)
	view, err := durable.Inspect(ctx, s.store, id)
	is.NoErr(err)
	is.True(strings.Contains(string(view.State), `"PaymentID":"early"`))
}

func awaitSameDeliveryTwice(t *testing.T, db awaitDB) {
	is := is.New(t)
	ctx := context.Background()
	s := newStoreShop(t, db)
	s.park(t, "order-3")
	for range 2 {
		is.NoErr(s.e.Signal(ctx, "order-3", "paid", Payment{ID: "p"}, durable.Delivery("webhook-1")))
	}
	sigs := s.signals(t, "order-3")
	is.Equal(len(sigs), 1)
	is.Equal(sigs[0].Delivery, "webhook-1")
	is.NoErr(s.e.Signal(ctx, "order-3", "paid", Payment{ID: "q"})) // no delivery ID: an event of its own
	is.Equal(s.recover(t), 1)
	is.Equal(mustLoad(t, s.store, "order-3").Status, journal.Succeeded)
	is.Equal(s.c.get("paid"), 1)
	view, err := durable.Inspect(ctx, s.store, "order-3")
	is.NoErr(err)
	is.True(strings.Contains(string(view.State), `"PaymentID":"p"`)) // the oldest first
	sigs = s.signals(t, "order-3")
	is.Equal(len(sigs), 1) // the second event is left: nothing waits for it
	is.Equal(sigs[0].Delivery, "")
	is.Equal(s.recover(t), 0)
}

func awaitSignalRefused(t *testing.T, db awaitDB) {
	is := is.New(t)
	ctx := context.Background()
	s := newStoreShop(t, db)
	err := s.e.Signal(ctx, "nope", "paid", nil)
	is.True(errors.Is(err, journal.ErrNotFound))
	s.park(t, "order-4")
	is.NoErr(s.e.Signal(ctx, "order-4", "paid", Payment{}))
	is.Equal(s.recover(t), 1)
	is.Equal(mustLoad(t, s.store, "order-4").Status, journal.Succeeded)
	err = s.e.Signal(ctx, "order-4", "paid", Payment{})
	is.True(errors.Is(err, journal.ErrFinal))
	err = s.e.Signal(ctx, "order-4", "paid", Payment{}, durable.Delivery("late-webhook"))
	is.True(errors.Is(err, journal.ErrFinal))
	is.Equal(len(s.signals(t, "order-4")), 0) // nothing recorded
	err = s.e.Signal(ctx, "order-4", "", nil)
	is.True(errors.Is(err, durable.ErrBadRequest))
	is.True(s.e.Signal(ctx, "order-4", "paid", func() {}) != nil) // cannot encode
	is.Equal(s.recover(t), 0)
}

func awaitDeadline(t *testing.T, db awaitDB) {
	is := is.New(t)
	s := newStoreShop(t, db)
	s.park(t, "order-5")
	s.clk.advance(30*time.Minute - time.Second)
	is.True(!mustLoad(t, s.store, "order-5").Wait.Due)
	is.Equal(s.recover(t), 0)
	s.clk.advance(time.Second)
	is.True(mustLoad(t, s.store, "order-5").Wait.Due)
	is.Equal(s.recover(t), 1)
	run := mustLoad(t, s.store, "order-5")
	is.Equal(run.Status, journal.Compensated)
	is.True(strings.Contains(run.Error, durable.ErrWaitTimedOut.Error()))
	is.Equal(s.c.get("release"), 1)
	is.Equal(s.c.get("refund"), 0) // pay failed: not compensated
	is.Equal(s.c.get("ship"), 0)
	is.Equal(s.c.get("paid"), 0)
	_, err := s.e.Wait(context.Background(), "order-5")
	is.True(errors.Is(err, durable.ErrWaitTimedOut))
	err = s.e.Signal(context.Background(), "order-5", "paid", Payment{})
	is.True(errors.Is(err, journal.ErrFinal)) // too late
}

// A signal and the deadline at once: the event wins.
func awaitSignalAtDeadline(t *testing.T, db awaitDB) {
	is := is.New(t)
	s := newStoreShop(t, db)
	s.park(t, "order-6")
	s.clk.advance(30 * time.Minute)
	is.NoErr(s.e.Signal(context.Background(), "order-6", "paid", Payment{ID: "late"}))
	is.Equal(s.recover(t), 1)
	is.Equal(mustLoad(t, s.store, "order-6").Status, journal.Succeeded)
	is.Equal(s.c.get("paid"), 1)
	is.Equal(len(s.signals(t, "order-6")), 0)
}

// A durable sleep whose timer falls due while no worker is up fires when
// a worker starts: a new engine, on a new handle, whose Work's next poll
// is an hour away.
func awaitSleepWhileNoWorker(t *testing.T, db awaitDB) {
	is := is.New(t)
	clk := newClock()
	var c counter
	sg := saga.New[Shop]().Name("trial").
		Step("start", func(context.Context, *Shop) error { c.inc("start"); return nil }, nil).
		Step("charge", func(ctx context.Context, _ *Shop) error {
			c.inc("charge")
			if err := durable.Sleep(ctx, 14*24*time.Hour); err != nil {
				return err
			}
			c.inc("charged")
			return nil
		}, nil).
		Build()
	first := db.handle(t, clk.now)
	e1 := durable.NewEngine(first, durable.WithOwner("first"), durable.WithLeaseTTL(ttl))
	d, err := durable.Register(e1, sg)
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(context.Background(), "trial-1"), &Shop{})
	is.True(errors.Is(err, durable.ErrWaiting))
	run := mustLoad(t, first, "trial-1")
	is.Equal(run.Status, journal.Waiting)
	is.Equal(run.Wait.Event, "")
	is.True(run.Wait.Until.Equal(clk.now().Add(14 * 24 * time.Hour)))
	db.down(first) // the worker stops

	later := db.handle(t, clk.now)
	e2 := durable.NewEngine(later, durable.WithOwner("later"), durable.WithLeaseTTL(ttl))
	_, err = durable.Register(e2, sg)
	is.NoErr(err)
	clk.advance(14*24*time.Hour - time.Second)
	n, err := e2.Recover(context.Background(), 0) // not yet
	is.NoErr(err)
	is.Equal(n, 0)
	clk.advance(time.Second) // due, and no worker is up

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	worked := make(chan error, 1)
	go func() { worked <- e2.Work(ctx, time.Hour) }()
	rep, err := e2.Wait(ctx, "trial-1")
	is.NoErr(err)
	is.Equal(rep.Status, saga.StatusSucceeded)
	cancel()
	<-worked
	is.Equal(c.get("start"), 1)
	is.Equal(c.get("charge"), 2) // slept, then woke
	is.Equal(c.get("charged"), 1)
	is.Equal(mustLoad(t, later, "trial-1").Status, journal.Succeeded)
}

// crowd counts, by run ID, the executions of each part of the crowd saga.
type crowd struct {
	mu              sync.Mutex
	pre, post, done map[string]int
	wrong           []string // payloads that were not the run's own
}

// crowdState is the state of a crowd run: the number it expects as its
// event's payload.
type crowdState struct{ N int }

func (c *crowd) saga() *saga.Saga[crowdState] {
	count := func(m map[string]int, id string) {
		c.mu.Lock()
		m[id]++
		c.mu.Unlock()
	}
	return saga.New[crowdState]().Name("crowd").
		Step("await", func(ctx context.Context, s *crowdState) error {
			id := saga.RunID(ctx)
			count(c.pre, id)
			n, err := durable.Await[int](ctx, "go", time.Hour)
			if err != nil {
				return err
			}
			count(c.post, id)
			if n != s.N {
				c.mu.Lock()
				c.wrong = append(c.wrong, fmt.Sprintf("%s got %d, want %d", id, n, s.N))
				c.mu.Unlock()
			}
			return nil
		}, nil).
		Step("done", func(ctx context.Context, _ *crowdState) error { count(c.done, saga.RunID(ctx)); return nil }, nil).
		Build()
}

// until polls cond, under c.mu, until it holds or ctx ends.
func (c *crowd) until(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// count returns len(m) under c.mu.
func (c *crowd) count(m map[string]int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(m)
}

// countStatus counts the store's runs by status.
func countStatus(ctx context.Context, store journal.Store) (map[journal.Status]int, error) {
	runs, err := store.List(ctx, journal.Filter{})
	if err != nil {
		return nil, err
	}
	n := map[journal.Status]int{}
	for _, r := range runs {
		n[r.Status]++
	}
	return n, nil
}

// until polls the store's runs until cond holds of their counts by
// status, or ctx ends. A run that stops otherwise than waiting or
// succeeded fails it at once.
func until(ctx context.Context, store journal.Store, cond func(map[journal.Status]int) bool) (map[journal.Status]int, error) {
	for {
		n, err := countStatus(ctx, store)
		if err != nil {
			return n, err
		}
		if cond(n) {
			return n, nil
		}
		for st, k := range n {
			if k > 0 && !st.Unfinished() && st != journal.Waiting && st != journal.Succeeded {
				return n, fmt.Errorf("%d runs %s", k, st)
			}
		}
		select {
		case <-ctx.Done():
			return n, context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// awaitThousand parks 1,000 runs (250 on SQLite under the race
// detector), all waiting at once, and signals them
// in random order from other goroutines through a second handle on the
// database and an engine of its own, while one engine's Work drives them:
// each run's step goes on past its wait exactly once, with its own
// payload, every run succeeds once, and no signal is left unconsumed.
func awaitThousand(t *testing.T, db awaitDB) {
	runs := 1000
	if _, sqlite := db.(awaitSQLiteDB); sqlite && raceEnabled {
		runs = 250 // the race detector instruments all of SQLite: the same checks, fewer runs
	}
	ctx, cancel := context.WithTimeoutCause(context.Background(), 2*time.Minute,
		fmt.Errorf("%d waiting runs: not all ended in time", runs))
	defer cancel()
	c := &crowd{pre: map[string]int{}, post: map[string]int{}, done: map[string]int{}}
	workerStore := db.handle(t, nil)
	worker := durable.NewEngine(workerStore, durable.WithOwner("worker"), durable.WithConcurrency(64))
	d, err := durable.Register(worker, c.saga())
	if err != nil {
		t.Fatal(err)
	}
	senderStore := db.handle(t, nil)
	sender := durable.NewEngine(senderStore, durable.WithOwner("sender"))

	wctx, stopWork := context.WithCancel(ctx)
	worked := make(chan error, 1)
	go func() { worked <- worker.Work(wctx, 10*time.Millisecond) }()
	stop := sync.OnceFunc(func() {
		stopWork()
		<-worked
	})
	defer stop()

	ids := make([]string, runs)
	nums := map[string]int{}
	for k := range ids {
		ids[k] = fmt.Sprintf("crowd-%04d", k)
		nums[ids[k]] = k
	}
	t0 := time.Now()
	if errs := fanOutIDs(ids, 64, func(id string) error {
		_, err := d.Start(saga.WithRunID(ctx, id), &crowdState{N: nums[id]})
		return err
	}); errs != nil {
		t.Fatalf("start: %v", errs)
	}
	started := time.Since(t0)
	// Every run reached its wait (cheap to poll), then every run is
	// journaled waiting (a List of them all).
	if err := c.until(ctx, func() bool { return len(c.pre) == runs }); err != nil {
		t.Fatalf("%d runs reached their wait, want %d: %v", c.count(c.pre), runs, err)
	}
	counts, err := until(ctx, workerStore, func(n map[journal.Status]int) bool { return n[journal.Waiting] == runs })
	if err != nil {
		t.Fatalf("runs by status %v: %v", counts, err)
	}
	parked := time.Since(t0)

	order := rand.Perm(runs)
	shuffled := make([]string, runs)
	for k, p := range order {
		shuffled[k] = ids[p]
	}
	if errs := fanOutIDs(shuffled, 64, func(id string) error {
		err := sender.Signal(ctx, id, "go", nums[id], durable.Delivery("go-"+id))
		if err == nil && nums[id]%10 == 0 { // a retried webhook: recorded once
			if err2 := sender.Signal(ctx, id, "go", -1, durable.Delivery("go-"+id)); err2 != nil && !errors.Is(err2, journal.ErrFinal) {
				err = err2
			}
		}
		return err
	}); errs != nil {
		t.Fatalf("signal: %v", errs)
	}
	signalled := time.Since(t0)
	if err := c.until(ctx, func() bool { return len(c.done) == runs }); err != nil {
		t.Fatalf("%d runs went past their wait, %d ran their last step, want %d: %v", c.count(c.post), c.count(c.done), runs, err)
	}
	counts, err = until(ctx, workerStore, func(n map[journal.Status]int) bool { return n[journal.Succeeded] == runs })
	if err != nil {
		t.Fatalf("runs by status %v: %v", counts, err)
	}
	t.Logf("%d runs: started in %v, all waiting at %v, signalled at %v, all succeeded at %v",
		runs, started, parked, signalled, time.Since(t0))
	stop()

	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.wrong {
		t.Error(w)
	}
	for _, m := range []struct {
		name string
		m    map[string]int
		want int
	}{{"before its wait", c.pre, 2}, {"after its wait", c.post, 1}, {"step done", c.done, 1}} {
		if len(m.m) != runs {
			t.Errorf("%s: %d runs, want %d", m.name, len(m.m), runs)
		}
		for id, n := range m.m {
			if n != m.want {
				t.Errorf("%s: %s ran %d times, want %d", m.name, id, n, m.want)
			}
		}
	}
	sig := senderStore.(journal.Signaler)
	if errs := fanOutIDs(ids, 4, func(id string) error {
		run, entries, err := workerStore.Load(ctx, id)
		if err != nil {
			return err
		}
		ended := 0
		for _, e := range entries {
			if e.Kind == journal.RunEnded {
				ended++
			}
		}
		if run.Status != journal.Succeeded || ended != 1 || run.Wait != (journal.Wait{}) {
			return fmt.Errorf("%s, ended %d times, wait %+v; want succeeded once, no wait", run.Status, ended, run.Wait)
		}
		left, err := sig.Signals(ctx, id)
		if err != nil {
			return err
		}
		if len(left) != 0 {
			return fmt.Errorf("%d signals left unconsumed: %+v", len(left), left)
		}
		return nil
	}); errs != nil {
		t.Error(errs)
	}
}

// fanOutIDs calls fn for each ID from n goroutines and joins the errors.
func fanOutIDs(ids []string, n int, fn func(id string) error) error {
	ch := make(chan string)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			for id := range ch {
				if err := fn(id); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", id, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, id := range ids {
		ch <- id
	}
	close(ch)
	wg.Wait()
	return errors.Join(errs...)
}

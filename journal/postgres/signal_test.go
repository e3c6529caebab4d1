package postgres_test

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
)

// park sets run id, leased to owner, waiting for w, as a driver does.
func park(s *postgres.Store, t *testing.T, id, owner string, w journal.WaitFor) error {
	return s.Append(t.Context(), id, owner, journal.Update{Status: journal.Waiting, Wait: &w},
		journal.Entry{Kind: journal.StepWaiting, Step: "pay", Attempt: 1, Note: w.Event})
}

// TestSignalRacesPark: a signal sent while its run parks, from another
// store (another process, in production: its own writer, transactions
// and connections), wakes the run whichever commits first. Each round parks
// runs on one store and signals them on the other at the same moment;
// every run must end up woken and claimable. A check of the signals in
// the statement that sets the run waiting, or of the wait in the one that
// records the signal, loses some of these wake-ups.
func TestSignalRacesPark(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name          string
		wait, event   string
		woken         bool
		parker, other []postgres.Option
	}{
		{name: "event", wait: "paid", event: "paid", woken: true},
		{name: "timer", wait: "", event: "paid", woken: false},
		{name: "other event", wait: "paid", event: "shipped", woken: false},
		{name: "no group commit", wait: "paid", event: "paid", woken: true,
			parker: []postgres.Option{postgres.WithBatchSize(1)}, other: []postgres.Option{postgres.WithBatchSize(1)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			schema := newSchema(t)
			open := func(opts []postgres.Option) *postgres.Store {
				s, err := postgres.New(ctx, sharedPool(t), append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				return s
			}
			parker, signaler := open(c.parker), open(c.other)
			const rounds, width = 60, 8
			missed := 0
			for round := range rounds {
				ids := make([]string, width)
				for k := range ids {
					ids[k] = fmt.Sprintf("run-%d-%d", round, k)
					err := parker.Create(ctx, journal.Run{ID: ids[k], Saga: "order", Status: journal.Running,
						LeaseOwner: "w1", LeaseExpiry: time.Now().Add(time.Minute)})
					if err != nil {
						t.Fatal(err)
					}
				}
				var wg sync.WaitGroup
				start := make(chan struct{})
				errs := make(chan error, 2*width)
				for k, id := range ids {
					wg.Go(func() {
						<-start
						errs <- park(parker, t, id, "w1", journal.WaitFor{Event: c.wait, For: time.Hour})
					})
					wg.Go(func() {
						<-start
						if k%2 == 1 { // let the park lead as often as the signal
							time.Sleep(time.Duration(round%4) * 100 * time.Microsecond)
						}
						_, err := signaler.Signal(ctx, id, journal.Signal{Event: c.event, Delivery: "d"})
						errs <- err
					})
				}
				close(start)
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
				for _, id := range ids {
					run, _, err := signaler.Load(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if run.Status != journal.Waiting || run.Wait.Event != c.wait {
						t.Fatalf("%s: status %s, wait %+v; want waiting for %q", id, run.Status, run.Wait, c.wait)
					}
					if run.Wait.Woken != c.woken {
						missed++
						t.Errorf("%s: woken %v, want %v", id, run.Wait.Woken, c.woken)
					}
				}
				if err := releaseAll(parker, t, ids, "w1"); err != nil {
					t.Fatal(err)
				}
				claimed, err := signaler.Claim(ctx, "w2", time.Minute, 2*width)
				if err != nil {
					t.Fatal(err)
				}
				want := 0
				if c.woken {
					want = width
				}
				if len(claimed) != want {
					t.Fatalf("round %d: claimed %d runs, want %d", round, len(claimed), want)
				}
				for _, r := range claimed {
					if !r.Wait.Woken || r.Wait.Due {
						t.Fatalf("claimed %s with wait %+v, want woken, not due", r.ID, r.Wait)
					}
				}
			}
			if missed > 0 {
				t.Fatalf("%d of %d runs missed their signal", missed, rounds*width)
			}
		})
	}
}

func releaseAll(s *postgres.Store, t *testing.T, ids []string, owner string) error {
	for _, id := range ids {
		if err := s.Release(t.Context(), id, owner); err != nil {
			return err
		}
	}
	return nil
}

// TestWaitOnDatabaseClock: a wait's deadline is the database's now plus
// For, whatever the worker's clock says, and it falls due on the
// database's clock: Load, List and Claim say so.
func TestWaitOnDatabaseClock(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	s := newStore(t)
	s.SetCallerClock(func() time.Time { return time.Now().Add(time.Hour) }) // a worker an hour ahead
	for _, id := range []string{"r1", "r2"} {
		is.NoErr(s.Create(ctx, journal.Run{ID: id, Status: journal.Running, LeaseOwner: "w1",
			LeaseExpiry: time.Now().Add(time.Hour + time.Minute)}))
	}

	before := dbNow(t)
	is.NoErr(park(s, t, "r1", "w1", journal.WaitFor{Event: "paid", For: time.Hour}))
	after := dbNow(t)
	got, _, err := s.Load(ctx, "r1")
	is.NoErr(err)
	if u := got.Wait.Until; u.Before(before.Truncate(time.Microsecond).Add(time.Hour)) || u.After(after.Add(time.Hour)) {
		t.Fatalf("Until %v, want the database's now plus an hour, within [%v, %v]", u, before.Add(time.Hour), after.Add(time.Hour))
	}
	is.Equal(got.Wait.Until, got.Updated.Add(time.Hour)) // the statement's now
	is.True(!got.Wait.Due)

	is.NoErr(park(s, t, "r2", "w1", journal.WaitFor{For: time.Second}))
	is.NoErr(s.Release(ctx, "r1", "w1"))
	is.NoErr(s.Release(ctx, "r2", "w1"))
	r2, _, err := s.Load(ctx, "r2")
	is.NoErr(err)
	claimed, err := s.Claim(ctx, "w2", time.Minute, 10)
	is.NoErr(err)
	// Not due yet, if the claim came before the deadline on the
	// database's clock (a machine slow enough may have passed it).
	if dbNow(t).Before(r2.Wait.Until) {
		is.Equal(len(claimed), 0)
	} else if len(claimed) == 0 {
		t.Log("the claim came after r2's deadline: its not-due case is not checked")
	}
	time.Sleep(r2.Wait.Until.Sub(dbNow(t)) + 10*time.Millisecond) // until r2 is due
	if len(claimed) > 0 {
		is.NoErr(s.Release(ctx, "r2", "w2")) // claimed late: free it again
	}
	got, _, err = s.Load(ctx, "r2")
	is.NoErr(err)
	is.True(got.Wait.Due)
	is.True(!got.Wait.Woken)
	listed, err := s.List(ctx, journal.Filter{Status: []journal.Status{journal.Waiting}})
	is.NoErr(err)
	is.Equal(len(listed), 2)
	for _, r := range listed {
		is.Equal(r.Wait.Due, r.ID == "r2")
	}
	claimed, err = s.Claim(ctx, "w2", time.Minute, 10)
	is.NoErr(err)
	is.Equal(len(claimed), 1)
	is.Equal(claimed[0].ID, "r2")
	is.True(claimed[0].Wait.Due)
	acquired, err := s.Acquire(ctx, "r1", "w3", time.Minute)
	is.NoErr(err)
	is.Equal(acquired.Wait.Event, "paid")
	is.True(!acquired.Wait.Due)
}

// TestWaitFarDeadline: a wait too long to end within the range of times
// the store keeps ends at its last instant instead of failing.
func TestWaitFarDeadline(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	s := newStore(t)
	is.NoErr(s.Create(ctx, journal.Run{ID: "r1", Status: journal.Running, LeaseOwner: "w1",
		LeaseExpiry: time.Now().Add(time.Hour)}))
	is.NoErr(park(s, t, "r1", "w1", journal.WaitFor{Event: "paid", For: math.MaxInt64}))
	got, _, err := s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(got.Wait.Until, time.Unix(0, math.MaxInt64).UTC())
	is.True(!got.Wait.Due)
}

// TestParkFenced: a worker that lost its lease sets nothing waiting and
// consumes nothing.
func TestParkFenced(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	s := newStore(t)
	is.NoErr(s.Create(ctx, journal.Run{ID: "r1", Status: journal.Running, LeaseOwner: "w2",
		LeaseExpiry: time.Now().Add(time.Hour)}))
	_, err := s.Signal(ctx, "r1", journal.Signal{Event: "paid"})
	is.NoErr(err)
	sigs, err := s.Signals(ctx, "r1")
	is.NoErr(err)
	before, _, err := s.Load(ctx, "r1")
	is.NoErr(err)
	err = s.Append(ctx, "r1", "w1", journal.Update{Status: journal.Waiting, Wait: &journal.WaitFor{Event: "paid"},
		Consume: []int64{sigs[0].ID}})
	is.True(errors.Is(err, journal.ErrLeaseLost))
	after, _, err := s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(after, before)
	left, err := s.Signals(ctx, "r1")
	is.NoErr(err)
	is.Equal(left, sigs)
}

// TestConsume: an Update that only consumes signals moves Updated, and
// consumes only the run's own signals.
func TestConsume(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	clock := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStore(t, postgres.WithNow(func() time.Time { return clock }))
	for _, id := range []string{"r1", "r2"} {
		is.NoErr(s.Create(ctx, journal.Run{ID: id, Status: journal.Running, LeaseOwner: "w1",
			LeaseExpiry: clock.Add(time.Hour)}))
		_, err := s.Signal(ctx, id, journal.Signal{Event: "paid", Payload: []byte(id)})
		is.NoErr(err)
	}
	other, err := s.Signals(ctx, "r2")
	is.NoErr(err)
	mine, err := s.Signals(ctx, "r1")
	is.NoErr(err)
	clock = clock.Add(time.Second)
	is.NoErr(s.Append(ctx, "r1", "w1", journal.Update{Consume: []int64{mine[0].ID, other[0].ID}}))
	got, _, err := s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(got.Updated, clock)
	is.Equal(got.Status, journal.Running)
	left, err := s.Signals(ctx, "r1")
	is.NoErr(err)
	is.Equal(len(left), 0)
	left, err = s.Signals(ctx, "r2")
	is.NoErr(err)
	is.Equal(left, other)
}

// TestSignalWakesListeners: a signal that wakes a waiting run notifies
// the listeners of every store on the schema; one that wakes nothing
// does not.
func TestSignalWakesListeners(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	a, err := postgres.New(ctx, sharedPool(t), postgres.WithSchema(schema))
	is.NoErr(err)
	defer a.Close()
	b, err := postgres.New(ctx, sharedPool(t), postgres.WithSchema(schema))
	is.NoErr(err)
	defer b.Close()
	is.NoErr(a.Create(ctx, journal.Run{ID: "r1", Status: journal.Running, LeaseOwner: "w1",
		LeaseExpiry: time.Now().Add(time.Hour)}))
	is.NoErr(park(a, t, "r1", "w1", journal.WaitFor{Event: "paid"}))
	is.NoErr(a.Release(ctx, "r1", "w1"))

	wake := b.Wakeups(ctx)
	awaitWake(t, wake, "listening began")
	drain(wake)
	_, err = a.Signal(ctx, "r1", journal.Signal{Event: "shipped"})
	is.NoErr(err)
	select {
	case <-wake:
		t.Fatal("woken by a signal the run does not wait for")
	case <-time.After(300 * time.Millisecond):
	}
	_, err = a.Signal(ctx, "r1", journal.Signal{Event: "paid"})
	is.NoErr(err)
	awaitWake(t, wake, "a signal woke a waiting run")
}

// TestMigrateWaits: a schema of version 1, with runs in it, migrates in
// place: its runs wait for nothing, and can wait and be signalled.
func TestMigrateWaits(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	p := sharedPool(t)
	is.NoErr(postgres.MigrateTo(ctx, p, schema, 1))
	_, err := p.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "runs"}.Sanitize()+` (id, saga, fingerprint, status,
		state, error, note, request_verb, request_step, request_note, created, updated, ended, lease_owner, lease_expiry, last_seq)
		VALUES ('old', 'order', 'fp', 'pending', NULL, '', '', '', '', '', 1, 1, 0, '', 0, 0)`)
	is.NoErr(err)

	s, err := postgres.New(ctx, p, postgres.WithSchema(schema))
	is.NoErr(err)
	defer s.Close()
	is.Equal(query[int](t, `SELECT max(version) FROM `+pgx.Identifier{schema, "sagakit_migrations"}.Sanitize()), postgres.SchemaVersion)
	got, _, err := s.Load(ctx, "old")
	is.NoErr(err)
	is.Equal(got.Wait, journal.Wait{})
	claimed, err := s.Claim(ctx, "w1", time.Minute, 10)
	is.NoErr(err)
	is.Equal(len(claimed), 1)
	is.NoErr(park(s, t, "old", "w1", journal.WaitFor{Event: "paid"}))
	is.NoErr(s.Release(ctx, "old", "w1"))
	ok, err := s.Signal(ctx, "old", journal.Signal{Event: "paid"})
	is.NoErr(err)
	is.True(ok)
	claimed, err = s.Claim(ctx, "w1", time.Minute, 10)
	is.NoErr(err)
	is.Equal(len(claimed), 1)
	is.True(claimed[0].Wait.Woken)
}

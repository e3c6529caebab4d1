package durable_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

const ttl = 30 * time.Second

// crashRun runs sg on an engine whose store "dies" after n appends, so
// the run is left unfinished and leased to the dead engine.
func crashRun(t *testing.T, store journal.Store, sg *saga.Saga[Order], n int, o *Order) {
	t.Helper()
	dead := durable.NewEngine(crashAfter(store, n), durable.WithOwner("dead"), durable.WithLeaseTTL(ttl))
	d, err := durable.Register(dead, sg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Run(saga.WithRunID(context.Background(), "run-c"), o); !errors.Is(err, errCrash) {
		t.Fatalf("want the simulated crash, got %v", err)
	}
}

// After a crash between steps, another worker resumes the run forward
// from its last journaled step; nothing runs twice.
func TestRecoverForwardAfterCrash(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var c calls
	// Appends: 1 = end reserve + start charge. The second (end charge +
	// start ship) is lost: charge's outcome is unknown.
	crashRun(t, store, orderSaga(&c, saga.Idempotent()), 1, &Order{})
	is.Equal(c.get("charge"), 1)

	worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
	_, err := durable.Register(worker, orderSaga(&c, saga.Idempotent()))
	is.NoErr(err)

	n, err := worker.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 0) // the dead engine's lease has not expired yet

	clk.advance(2 * ttl)
	n, err = worker.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 1)
	run, _, _ := store.Load(context.Background(), "run-c")
	is.Equal(run.Status, journal.Succeeded)
	is.Equal(c.get("reserve"), 1) // not run again
	is.Equal(c.get("charge"), 2)  // idempotent, outcome unknown: run again
	is.Equal(c.get("ship"), 1)
	var o Order
	is.NoErr(jsonDecode(run.State, &o))
	is.Equal(o.Keys, []string{"run-c/reserve/1", "run-c/charge/1", "run-c/ship/1"}) // charge kept its key
}

// A step whose outcome was lost and which is not idempotent is
// compensated, with everything before it.
func TestRecoverCompensatesUnknownStep(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var c calls
	crashRun(t, store, orderSaga(&c), 1, &Order{})

	worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
	_, _ = durable.Register(worker, orderSaga(&c))
	clk.advance(2 * ttl)
	n, err := worker.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 1)
	run, _, _ := store.Load(context.Background(), "run-c")
	is.Equal(run.Status, journal.Compensated)
	is.Equal(c.get("charge"), 1) // not run again
	is.Equal(c.get("undo charge"), 1)
	is.Equal(c.get("undo reserve"), 1)
	is.Equal(c.get("ship"), 0)
}

func TestCompensateAfterCrashPolicy(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var c calls
	crashRun(t, store, orderSaga(&c, saga.Idempotent()), 2, &Order{}) // charge ended, ship unknown

	worker := durable.NewEngine(store, durable.WithOwner("worker"))
	_, _ = durable.Register(worker, orderSaga(&c, saga.Idempotent()), durable.OnCrash(durable.CompensateAfterCrash))
	clk.advance(2 * ttl)
	_, err := worker.Recover(context.Background(), 0)
	is.NoErr(err)
	run, _, _ := store.Load(context.Background(), "run-c")
	is.Equal(run.Status, journal.Compensated)
	is.Equal(c.get("undo charge"), 1)
	is.Equal(c.get("undo reserve"), 1)
}

// A crash in the middle of compensating: recovery finishes compensating.
func TestRecoverMidCompensation(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var c calls
	// Appends: 1 end reserve+start charge, 2 end charge+start ship,
	// 3 ship failed + compensating + start undo charge, 4 (lost).
	crashRun(t, store, orderSaga(&c), 3, &Order{FailShip: true})
	is.Equal(c.get("undo charge"), 1)
	is.Equal(c.get("undo reserve"), 0)

	worker := durable.NewEngine(store, durable.WithOwner("worker"))
	_, _ = durable.Register(worker, orderSaga(&c))
	clk.advance(2 * ttl)
	_, err := worker.Recover(context.Background(), 0)
	is.NoErr(err)
	run, _, _ := store.Load(context.Background(), "run-c")
	is.Equal(run.Status, journal.Compensated)
	is.Equal(c.get("undo charge"), 2) // its end was lost: compensations run again
	is.Equal(c.get("undo reserve"), 1)
}

// Resuming a run whose definition changed incompatibly is refused, and
// the run set aside for a person.
func TestRecoverRefusesChangedDefinition(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var c calls
	crashRun(t, store, orderSaga(&c), 1, &Order{})

	changed := saga.New[Order]().Name("order").
		Step("reserve", func(context.Context, *Order) error { return nil }, nil).
		Step("ship", func(context.Context, *Order) error { return nil }, nil).
		Build()
	worker := durable.NewEngine(store, durable.WithOwner("worker"))
	_, _ = durable.Register(worker, changed)
	clk.advance(2 * ttl)
	_, err := worker.Recover(context.Background(), 0)
	is.True(errors.Is(err, durable.ErrDefinitionChanged))
	run, _, _ := store.Load(context.Background(), "run-c")
	is.Equal(run.Status, journal.Blocked) // set aside, the reason in its error
	is.True(strings.Contains(run.Error, "definition changed"))
	is.Equal(run.LeaseOwner, "")
	is.Equal(c.get("undo reserve"), 0) // no code of the changed definition ran
}

func TestRecoverUnknownSaga(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var c calls
	crashRun(t, store, orderSaga(&c), 1, &Order{})
	worker := durable.NewEngine(store, durable.WithOwner("worker"))
	clk.advance(2 * ttl)
	_, err := worker.Recover(context.Background(), 0)
	is.True(errors.Is(err, durable.ErrUnknownSaga))
}

// The worker loop recovers runs as their leases expire, until its
// context ends.
func TestWorkLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := journal.NewMemory()
		var c calls
		crashRun(t, store, orderSaga(&c, saga.Idempotent()), 1, &Order{})

		worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
		_, _ = durable.Register(worker, orderSaga(&c, saga.Idempotent()))
		ctx, cancel := context.WithTimeout(context.Background(), 2*ttl)
		defer cancel()
		err := worker.Work(ctx, time.Second)
		is.True(errors.Is(err, context.DeadlineExceeded))
		run, _, _ := store.Load(context.Background(), "run-c")
		is.Equal(run.Status, journal.Succeeded) // recovered once the dead worker's lease ran out
		is.Equal(c.get("ship"), 1)
	})
}

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
	"github.com/sagakit/sagakit/sagatest"
)

const ttl = 30 * time.Second

// crashAt runs sg as run-c on an engine writing through crash, whose
// process dies at its crash point: the run is left unfinished and leased
// to the dead engine.
func crashAt(t *testing.T, crash *sagatest.CrashingStore, sg *saga.Saga[Order], o *Order) {
	t.Helper()
	dead := durable.NewEngine(crash, durable.WithOwner("dead"), durable.WithLeaseTTL(ttl))
	d, err := durable.Register(dead, sg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Run(saga.WithRunID(context.Background(), "run-c"), o); !errors.Is(err, sagatest.ErrCrashed) {
		t.Fatalf("want the simulated crash, got %v", err)
	}
}

// crashRun is crashAt with the process dying at its append n+1 (the
// write that creates the run is not an append): after n = 1, the
// second step's end is lost.
func crashRun(t *testing.T, store journal.Store, sg *saga.Saga[Order], n int, o *Order) {
	t.Helper()
	crashAt(t, sagatest.NewCrashingStore(store).CrashBeforeWrite(n+2), sg, o)
}

// After a crash between steps, another worker resumes the run forward
// from its last journaled step; nothing runs twice.
func TestRecoverForwardAfterCrash(t *testing.T) {
	is := is.New(t)
	var clk sagatest.Clock
	store := journal.NewMemory(journal.WithClock(clk.Now))
	var c calls
	// charge runs, and its end is lost: its outcome is unknown.
	crashAt(t, sagatest.NewCrashingStore(store).CrashBefore(journal.StepSucceeded, "charge"),
		orderSaga(&c, saga.Idempotent()), &Order{})
	is.Equal(c.get("charge"), 1)

	worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
	_, err := durable.Register(worker, orderSaga(&c, saga.Idempotent()))
	is.NoErr(err)

	n, err := worker.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 0) // the dead engine's lease has not expired yet

	is.Equal(sagatest.Recover(t, worker, &clk), 1) // once it has
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
// compensated, with everything before it, and never run again: the
// second step, and the first (where the run's journal begins).
func TestRecoverCompensatesUnknownStep(t *testing.T) {
	for _, tc := range []struct {
		step   string
		undone []string
		next   string // the step after it, never started
	}{
		{"charge", []string{"charge", "reserve"}, "ship"},
		{"reserve", []string{"reserve"}, "charge"},
	} {
		t.Run(tc.step, func(t *testing.T) {
			is := is.New(t)
			var clk sagatest.Clock
			store := journal.NewMemory(journal.WithClock(clk.Now))
			var c calls
			crashAt(t, sagatest.NewCrashingStore(store).CrashBefore(journal.StepSucceeded, tc.step), orderSaga(&c), &Order{})

			worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
			_, _ = durable.Register(worker, orderSaga(&c))
			is.Equal(sagatest.Recover(t, worker, &clk), 1)
			run, _, _ := store.Load(context.Background(), "run-c")
			is.Equal(run.Status, journal.Compensated)
			is.Equal(c.get(tc.step), 1) // not run again
			for _, u := range tc.undone {
				is.Equal(c.get("undo "+u), 1)
			}
			is.Equal(c.get(tc.next), 0)
		})
	}
}

func TestCompensateAfterCrashPolicy(t *testing.T) {
	is := is.New(t)
	var clk sagatest.Clock
	store := journal.NewMemory(journal.WithClock(clk.Now))
	var c calls
	// charge ended; ship ran, its outcome unknown.
	crashAt(t, sagatest.NewCrashingStore(store).CrashBefore(journal.StepSucceeded, "ship"),
		orderSaga(&c, saga.Idempotent()), &Order{})

	worker := durable.NewEngine(store, durable.WithOwner("worker"))
	_, _ = durable.Register(worker, orderSaga(&c, saga.Idempotent()), durable.OnCrash(durable.CompensateAfterCrash))
	sagatest.Recover(t, worker, &clk)
	run, _, _ := store.Load(context.Background(), "run-c")
	is.Equal(run.Status, journal.Compensated)
	is.Equal(c.get("undo charge"), 1)
	is.Equal(c.get("undo reserve"), 1)
}

// A crash in the middle of compensating: recovery finishes compensating.
func TestRecoverMidCompensation(t *testing.T) {
	is := is.New(t)
	var clk sagatest.Clock
	store := journal.NewMemory(journal.WithClock(clk.Now))
	var c calls
	// ship fails; charge is compensated, and the end of its compensation
	// is lost.
	crashAt(t, sagatest.NewCrashingStore(store).CrashBefore(journal.CompSucceeded, "charge"),
		orderSaga(&c), &Order{FailShip: true})
	is.Equal(c.get("undo charge"), 1)
	is.Equal(c.get("undo reserve"), 0)

	worker := durable.NewEngine(store, durable.WithOwner("worker"))
	_, _ = durable.Register(worker, orderSaga(&c))
	sagatest.Recover(t, worker, &clk)
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

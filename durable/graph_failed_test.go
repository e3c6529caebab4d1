package durable_test

import (
	"context"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

// A graph run whose first step failed, the failure journaled, when its
// process died before journaling where the failure leads: the worker
// that recovers it goes on from the failure (here the run ends
// compensated, with nothing to undo) and does not run the failed step
// again.
func TestGraphFailedFirstStepNotRunAgain(t *testing.T) {
	is := is.New(t)
	var clk sagatest.Clock
	store := journal.NewMemory(journal.WithClock(clk.Now))
	var c calls
	sg := func() *saga.Saga[Order] {
		return saga.New[Order]().Name("graph").
			Step("quote", func(context.Context, *Order) error { c.inc("quote"); return errShip },
				func(context.Context, *Order) error { c.inc("undo quote"); return nil }).
			Step("book", func(context.Context, *Order) error { c.inc("book"); return nil }, nil, saga.After("quote")).
			Step("bill", func(context.Context, *Order) error { c.inc("bill"); return nil }, nil, saga.After("quote")).
			Build()
	}
	crashAt(t, sagatest.NewCrashingStore(store).CrashAfter(journal.StepFailed, "quote"), sg(), &Order{})

	worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
	_, _ = durable.Register(worker, sg())
	is.Equal(sagatest.Recover(t, worker, &clk), 1)
	run, entries, err := store.Load(context.Background(), "run-c")
	is.NoErr(err)
	is.Equal(run.Status, journal.Compensated)
	is.Equal(kinds(entries), []string{"run_started", "step_started quote", "step_failed quote", "run_ended"})
	is.Equal(c.get("quote"), 1)      // not run again
	is.Equal(c.get("undo quote"), 0) // a failed step is not compensated
	is.Equal(c.get("book")+c.get("bill"), 0)
}

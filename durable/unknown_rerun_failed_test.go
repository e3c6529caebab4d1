package durable_test

import (
	"context"
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

var errDeclined = errors.New("card declined")

// rerunFailsSaga: reserve, then charge (idempotent), whose first call
// takes effect and whose second fails before it reaches the bank, then
// ship.
func rerunFailsSaga(c *calls) *saga.Saga[Order] {
	step := func(name string) func(context.Context, *Order) error {
		return func(context.Context, *Order) error { c.inc(name); return nil }
	}
	return saga.New[Order]().Name("order").
		Step("reserve", step("reserve"), step("undo reserve")).
		Step("charge", func(context.Context, *Order) error {
			if c.inc("charge") > 1 {
				return errDeclined // fails before calling the bank
			}
			c.inc("charged")
			return nil
		}, step("undo charge"), saga.Idempotent()).
		Step("ship", step("ship"), step("undo ship")).
		Build()
}

// A step whose outcome a crash lost runs again after it (it is
// idempotent); if the re-run fails of its own, that does not say the
// first execution took no effect (it may have failed before reaching
// it): the step is compensated with the rest, under its key, whether
// recovery compensates at once or a person compensates the paused run.
func TestUnknownRerunFailedIsCompensated(t *testing.T) {
	for _, pause := range []bool{false, true} {
		name := "compensated"
		if pause {
			name = "paused, then compensated"
		}
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			ctx := context.Background()
			var clk sagatest.Clock
			store := journal.NewMemory(journal.WithClock(clk.Now))
			var c calls
			// charge takes effect, and its end is lost.
			crashAt(t, sagatest.NewCrashingStore(store).CrashBefore(journal.StepSucceeded, "charge"), rerunFailsSaga(&c), &Order{})
			is.Equal(c.get("charged"), 1)

			worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
			var opts []durable.DefOption
			if pause {
				opts = append(opts, durable.PauseOnFailure())
			}
			_, err := durable.Register(worker, rerunFailsSaga(&c), opts...)
			is.NoErr(err)
			sagatest.Recover(t, worker, &clk)
			is.Equal(c.get("charge"), 2) // run again, and failed

			run, _, err := store.Load(ctx, "run-c")
			is.NoErr(err)
			if pause {
				is.Equal(run.Status, journal.Paused)
				is.Equal(c.get("undo charge"), 0)
				_, err = worker.Compensate(ctx, "run-c", "declined: undo everything")
				is.NoErr(err)
				run, _, err = store.Load(ctx, "run-c")
				is.NoErr(err)
			}
			is.Equal(run.Status, journal.Compensated)
			is.Equal(c.get("undo charge"), 1) // its first execution's effect is undone
			is.Equal(c.get("undo reserve"), 1)
			is.Equal(c.get("ship"), 0)
		})
	}
}

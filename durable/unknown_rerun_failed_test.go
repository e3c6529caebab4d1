package durable_test

import (
	"context"
	"errors"
	"slices"
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

// keyedRerunSaga is rerunFailsSaga whose charge books once per
// idempotency key, as a bank deduplicating by key would, and fails on
// the calls fails names (call 2 is the re-run after the crash).
func keyedRerunSaga(c *calls, charged map[string]bool, fails ...int) *saga.Saga[Order] {
	step := func(name string) func(context.Context, *Order) error {
		return func(context.Context, *Order) error { c.inc(name); return nil }
	}
	return saga.New[Order]().Name("order").
		Step("reserve", step("reserve"), step("undo reserve")).
		Step("charge", func(ctx context.Context, _ *Order) error {
			if slices.Contains(fails, c.inc("charge")) {
				return errDeclined // fails before calling the bank
			}
			charged[durable.IdempotencyKey(ctx)] = true
			return nil
		}, func(ctx context.Context, _ *Order) error {
			delete(charged, durable.IdempotencyKey(ctx))
			return nil
		}, saga.Idempotent()).
		Step("ship", step("ship"), step("undo ship")).
		Build()
}

// After a re-run of an unknown outcome failed and the run paused, the
// first execution may have taken effect: Resume and RetryStep run the
// step again as that execution, under its key, so that the participant
// deduplicates it (a new execution would charge twice). If that fails
// too, the execution is still of unknown outcome: compensating the run
// undoes the charge.
func TestUnknownRerunFailedResumedUnderItsKey(t *testing.T) {
	for _, verb := range []journal.Verb{journal.Resume, journal.RetryStep} {
		for _, again := range []bool{false, true} {
			name := string(verb) + ", succeeds"
			if again {
				name = string(verb) + ", fails again, compensated"
			}
			t.Run(name, func(t *testing.T) {
				is := is.New(t)
				ctx := context.Background()
				var clk sagatest.Clock
				store := journal.NewMemory(journal.WithClock(clk.Now))
				var c calls
				charged := map[string]bool{}
				fails := []int{2}
				if again {
					fails = append(fails, 3)
				}
				sg := keyedRerunSaga(&c, charged, fails...)
				crashAt(t, sagatest.NewCrashingStore(store).CrashBefore(journal.StepSucceeded, "charge"), sg, &Order{})
				is.Equal(len(charged), 1)

				worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
				_, err := durable.Register(worker, sg, durable.PauseOnFailure())
				is.NoErr(err)
				sagatest.Recover(t, worker, &clk)
				run, seen, err := store.Load(ctx, "run-c")
				is.NoErr(err)
				is.Equal(run.Status, journal.Paused) // the re-run failed

				asOf := durable.AsOf(seen[len(seen)-1].Seq) // the person read the journal
				if verb == journal.Resume {
					_, err = worker.Resume(ctx, "run-c", "the card works now", asOf)
				} else {
					_, err = worker.RetryStep(ctx, "run-c", "charge", "the card works now", asOf)
				}
				is.Equal(err != nil, again)
				is.Equal(c.get("charge"), 3)
				run, entries, err := store.Load(ctx, "run-c")
				is.NoErr(err)
				for _, e := range entries {
					if e.Kind == journal.StepStarted && e.Step == "charge" {
						is.Equal(e.Attempt, 1) // one execution, run three times
					}
				}
				if !again {
					is.Equal(run.Status, journal.Succeeded)
					is.Equal(charged, map[string]bool{"run-c/charge/1": true}) // charged once
					return
				}
				is.Equal(run.Status, journal.Paused)
				_, err = worker.Compensate(ctx, "run-c", "give up")
				is.NoErr(err)
				run, _, err = store.Load(ctx, "run-c")
				is.NoErr(err)
				is.Equal(run.Status, journal.Compensated)
				is.Equal(len(charged), 0) // the first execution's charge undone
				is.Equal(c.get("undo reserve"), 1)
			})
		}
	}
}

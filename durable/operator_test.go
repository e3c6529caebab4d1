package durable_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// resumable_transaction's story: the run pauses at the failure, a person
// fixes the cause, and resume continues from the failed step.
func TestPauseAndResume(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	shipFails := true
	sg := saga.New[Order]().Name("order").
		Step("reserve", func(_ context.Context, o *Order) error {
			c.inc("reserve")
			o.Steps = append(o.Steps, "reserve")
			return nil
		},
			func(context.Context, *Order) error { c.inc("undo reserve"); return nil }).
		Step("ship", func(ctx context.Context, o *Order) error {
			c.inc("ship")
			o.Keys = append(o.Keys, durable.IdempotencyKey(ctx))
			if shipFails {
				return errShip
			}
			o.Steps = append(o.Steps, "ship")
			return nil
		}, nil).
		Build()
	d, err := durable.Register(e, sg, durable.PauseOnFailure())
	is.NoErr(err)
	rep, err := d.Run(saga.WithRunID(context.Background(), "run-p"), &Order{})
	is.True(errors.Is(err, errShip))
	is.Equal(rep.Status, saga.StatusPaused)
	is.Equal(c.get("undo reserve"), 0) // paused, not compensated
	run, _, _ := store.Load(context.Background(), "run-p")
	is.Equal(run.Status, journal.Paused)
	is.True(strings.Contains(run.Error, "courier unavailable"))
	is.Equal(run.Error, err.Error()) // the error Run returned, as journaled

	shipFails = false // the cause is fixed
	rep, err = e.Resume(context.Background(), "run-p", "courier is back")
	is.NoErr(err)
	is.Equal(rep.Status, saga.StatusSucceeded)
	is.Equal(c.get("reserve"), 1) // not run again
	is.Equal(c.get("ship"), 2)
	run, entries, _ := store.Load(context.Background(), "run-p")
	is.Equal(run.Status, journal.Succeeded)
	var o Order
	is.NoErr(jsonDecode(run.State, &o))
	is.Equal(o.Keys, []string{"run-p/ship/2"}) // a new execution, a new key (the failed one's state is not kept)
	is.Equal(o.Steps, []string{"reserve", "ship"})
	found := false
	for _, e := range entries {
		found = found || e.Kind == journal.RequestMade && e.Note == "courier is back"
	}
	is.True(found) // the note is kept in the journal
}

func TestCompensateRequest(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	d, _ := durable.Register(e, orderSaga(&c), durable.PauseOnFailure())
	_, err := d.Run(saga.WithRunID(context.Background(), "run-x"), &Order{FailShip: true})
	is.True(errors.Is(err, errShip))
	rep, err := e.Compensate(context.Background(), "run-x", "customer cancelled")
	is.NoErr(err) // it did what was asked
	is.Equal(rep.Status, saga.StatusCompensated)
	is.Equal(c.get("undo charge"), 1)
	is.Equal(c.get("undo reserve"), 1)
	run, _, _ := store.Load(context.Background(), "run-x")
	is.Equal(run.Status, journal.Compensated)
	is.True(strings.Contains(run.Error, "courier unavailable")) // the run keeps its own error
	is.Equal(run.Note, "customer cancelled")                    // and the note beside it
}

func TestRetryStepRequest(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	d, _ := durable.Register(e, orderSaga(&c), durable.PauseOnFailure())
	_, _ = d.Run(saga.WithRunID(context.Background(), "run-r"), &Order{FailShip: true})
	_, err := e.RetryStep(context.Background(), "run-r", "reserve", "")
	is.True(errors.Is(err, durable.ErrBadRequest)) // not where it stopped
	_, err = e.RetryStep(context.Background(), "run-r", "ship", "try again")
	is.True(errors.Is(err, errShip)) // still failing (the state says so)
	is.Equal(c.get("ship"), 2)
	run, _, _ := store.Load(context.Background(), "run-r")
	is.Equal(run.Status, journal.Paused)
}

func TestResolveAndAbandonKeepNotes(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	d, _ := durable.Register(e, orderSaga(&c), durable.PauseOnFailure())
	for _, id := range []string{"a", "b"} {
		_, _ = d.Run(saga.WithRunID(context.Background(), id), &Order{FailShip: true})
	}
	is.NoErr(e.Resolve(context.Background(), "a", "shipped by hand"))
	is.NoErr(e.Abandon(context.Background(), "b", "duplicate order"))
	ra, ea, _ := store.Load(context.Background(), "a")
	rb, _, _ := store.Load(context.Background(), "b")
	is.Equal(ra.Status, journal.Resolved)
	is.Equal(rb.Status, journal.Abandoned)
	is.Equal(ea[len(ea)-2].Note, "shipped by hand")
	_, err := e.Resume(context.Background(), "a", "")
	is.True(errors.Is(err, journal.ErrFinal)) // a resolved run is over
}

func TestResumeCompensationFailed(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	refundDown := true
	var c calls
	d, _ := durable.Register(e, refundSaga(&c, &refundDown))
	rep, err := d.Run(saga.WithRunID(context.Background(), "run-f"), &Order{})
	is.True(errors.Is(err, saga.ErrCompensationFailed))
	is.Equal(rep.Status, saga.StatusCompensationFailed)
	run, _, _ := store.Load(context.Background(), "run-f")
	is.Equal(run.Status, journal.CompensationFailed)

	refundDown = false
	rep, err = e.Resume(context.Background(), "run-f", "refund service is back")
	is.Equal(rep.Status, saga.StatusCompensated)
	is.NoErr(err)
	is.Equal(c.get("refund"), 2)
	run, _, _ = store.Load(context.Background(), "run-f")
	is.Equal(run.Status, journal.Compensated)
}

// Retrying one failed compensation of two leaves the run in
// compensation_failed until the other one is undone too.
func TestRetryOneOfTwoCompensations(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	down := map[string]bool{"a": true, "b": true}
	undo := func(name string) func(context.Context, *Order) error {
		return func(context.Context, *Order) error {
			if down[name] {
				return errors.New(name + " service down")
			}
			return nil
		}
	}
	ok := func(context.Context, *Order) error { return nil }
	sg := saga.New[Order]().Name("two").WithCompensationRetry(retryOnce).
		Step("a", ok, undo("a")).Step("b", ok, undo("b")).
		Step("c", func(context.Context, *Order) error { return errShip }, nil).
		Build()
	d, _ := durable.Register(e, sg)
	_, err := d.Run(saga.WithRunID(context.Background(), "run-2c"), &Order{})
	is.True(errors.Is(err, saga.ErrCompensationFailed))

	down["a"] = false
	_, _ = e.RetryStep(context.Background(), "run-2c", "a", "a is back")
	run, _, _ := store.Load(context.Background(), "run-2c")
	is.Equal(run.Status, journal.CompensationFailed) // b still failed

	down["b"] = false
	rep, _ := e.Resume(context.Background(), "run-2c", "b is back")
	is.Equal(rep.Status, saga.StatusCompensated)
	run, _, _ = store.Load(context.Background(), "run-2c")
	is.Equal(run.Status, journal.Compensated)
}

// refundSaga: charge, whose refund fails while *down, then ship, which
// fails: runs end in compensation_failed until the refund service is back.
func refundSaga(c *calls, down *bool) *saga.Saga[Order] {
	return saga.New[Order]().Name("order").
		WithCompensationRetry(retryOnce).
		Step("charge", func(context.Context, *Order) error { return nil }, func(context.Context, *Order) error {
			c.inc("refund")
			if *down {
				return errors.New("refund service down")
			}
			return nil
		}).
		Step("ship", func(context.Context, *Order) error { return errShip }, nil).
		Build()
}

// A resolve whose write fails says so, and the run stays as it was:
// paused, its request recorded for the next worker.
func TestResolveReportsAFailedWrite(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	d, err := durable.Register(e, saga.New[Order]().Name("order").
		Step("ship", func(context.Context, *Order) error { return errShip }, nil).
		Build(), durable.PauseOnFailure())
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(ctx, "run-r"), &Order{})
	is.True(errors.Is(err, errShip))

	broken := durable.NewEngine(crashAfter(store, 0)) // every journal write fails
	err = broken.Resolve(ctx, "run-r", "refunded by hand")
	is.True(errors.Is(err, errCrash))
	is.True(errors.Is(err, durable.ErrJournal))
	run := mustLoad(t, store, "run-r")
	is.Equal(run.Status, journal.Paused)
	is.Equal(run.Request.Verb, journal.Resolve)
}

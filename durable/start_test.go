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

// A run started on one engine is driven by a worker on another, and Wait
// returns its outcome.
func TestStartDrivenByAnyWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := journal.NewMemory()
		var c calls
		producer := durable.NewEngine(store, durable.WithOwner("producer"))
		d, _ := durable.Register(producer, orderSaga(&c))
		id, err := d.Start(saga.WithRunID(context.Background(), "order-1"), &Order{ID: "o-1"})
		is.NoErr(err)
		is.Equal(id, "order-1")
		run := mustLoad(t, store, id)
		is.Equal(run.Status, journal.Pending) // journaled, not run
		is.Equal(run.LeaseOwner, "")
		is.Equal(c.get("reserve"), 0)

		worker := durable.NewEngine(store, durable.WithOwner("worker"))
		_, _ = durable.Register(worker, orderSaga(&c))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { _ = worker.Work(ctx, time.Minute) }()

		rep, err := producer.Wait(context.Background(), id)
		is.NoErr(err)
		is.Equal(rep.Status, saga.StatusSucceeded)
		is.Equal(c.get("ship"), 1)
		run, entries, _ := store.Load(context.Background(), id)
		is.Equal(run.Status, journal.Succeeded)
		var o Order
		is.NoErr(jsonDecode(run.State, &o))
		is.Equal(o.ID, "o-1") // the state Start was given
		is.Equal(kinds(entries)[:2], []string{"run_started", "step_started reserve"})
	})
}

// Start wakes the engine's own workers at once, not at their next poll.
func TestStartWakesWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := journal.NewMemory()
		var c calls
		e := durable.NewEngine(store)
		d, _ := durable.Register(e, orderSaga(&c))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { _ = e.Work(ctx, time.Hour) }()
		synctest.Wait() // Work is idle, its next poll an hour away
		start := time.Now()
		id, err := d.Start(context.Background(), &Order{})
		is.NoErr(err)
		_, err = e.Wait(context.Background(), id)
		is.NoErr(err)
		is.True(time.Since(start) < time.Second) // not an hour
	})
}

// A retried Start with the caller's ID returns the run it started; an ID
// taken by another run is refused.
func TestStartIdempotent(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c calls
	e := durable.NewEngine(store)
	d, _ := durable.Register(e, orderSaga(&c))
	other, _ := durable.Register(e, saga.New[Order]().Name("refund").
		Step("refund", func(context.Context, *Order) error { return nil }, nil).Build())
	ctx := saga.WithRunID(context.Background(), "order-42")
	id1, err := d.Start(ctx, &Order{ID: "o-42"})
	is.NoErr(err)
	id2, err := d.Start(ctx, &Order{ID: "o-42"}) // the client retried
	is.NoErr(err)
	is.Equal(id1, id2)
	runs, _ := store.List(context.Background(), journal.Filter{})
	is.Equal(len(runs), 1)

	_, err = d.Start(ctx, &Order{ID: "o-43"})
	is.True(errors.Is(err, journal.ErrExists))
	is.True(strings.Contains(err.Error(), "another state"))
	_, err = other.Start(ctx, &Order{ID: "o-42"})
	is.True(errors.Is(err, journal.ErrExists))
	is.True(strings.Contains(err.Error(), `saga "order"`))

	_, err = d.Start(context.Background(), nil)
	is.True(errors.Is(err, saga.ErrNilState))
	bad, _ := durable.Register(e, saga.New[Order]().Name("bad").
		Step("a", func(context.Context, *Order) error { return nil }, nil).Build(), durable.WithCodec[Order](failAfter{"x"}))
	_, err = bad.Start(context.Background(), &Order{Steps: []string{"x"}})
	is.True(err != nil && strings.Contains(err.Error(), "not started"))
}

// Wait returns a failed run's error rebuilt from the journal, and returns
// at a pause too: the run waits for a person.
func TestWaitForFailures(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c calls
	e := durable.NewEngine(store)
	d, _ := durable.Register(e, orderSaga(&c))
	id, _ := d.Start(context.Background(), &Order{FailShip: true})
	_, err := e.Recover(context.Background(), 0)
	is.NoErr(err)
	rep, err := e.Wait(context.Background(), id)
	var se *saga.Error
	is.True(errors.As(err, &se))
	is.Equal(se.Step, "ship")
	is.Equal(se.Status, saga.StatusCompensated)
	is.True(strings.Contains(se.Err.Error(), "courier unavailable"))
	is.Equal(rep.Status, saga.StatusCompensated)

	refundDown := true
	e2 := durable.NewEngine(store, durable.WithOwner("e2"))
	d2, _ := durable.Register(e2, refundSaga(&c, &refundDown))
	id, _ = d2.Start(context.Background(), &Order{})
	_, _ = e2.Recover(context.Background(), 0)
	_, err = e2.Wait(context.Background(), id)
	is.True(errors.Is(err, saga.ErrCompensationFailed))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	id, _ = d.Start(context.Background(), &Order{}) // no worker drives it
	_, err = e.Wait(ctx, id)
	is.True(errors.Is(err, context.DeadlineExceeded))
	_, err = e.Wait(context.Background(), "nope")
	is.True(errors.Is(err, journal.ErrNotFound))
}

// A started run is not a crashed one: under CompensateAfterCrash too, its
// first worker runs it forward.
func TestStartedRunIsNotACrash(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c calls
	e := durable.NewEngine(store)
	d, _ := durable.Register(e, orderSaga(&c), durable.OnCrash(durable.CompensateAfterCrash))
	id, _ := d.Start(context.Background(), &Order{})
	_, err := e.Recover(context.Background(), 0)
	is.NoErr(err)
	rep, err := e.Wait(context.Background(), id)
	is.NoErr(err)
	is.Equal(rep.Status, saga.StatusSucceeded)
	is.Equal(c.get("ship"), 1)
}

// Two Starts of one ID at once start one run.
func TestConcurrentStarts(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c calls
	e := durable.NewEngine(store)
	d, _ := durable.Register(e, orderSaga(&c))
	ctx := saga.WithRunID(context.Background(), "order-9")
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := d.Start(ctx, &Order{ID: "o-9"})
			errs <- err
		}()
	}
	for range 8 {
		is.NoErr(<-errs)
	}
	_, entries, _ := store.Load(context.Background(), "order-9")
	is.Equal(len(entries), 1)
}

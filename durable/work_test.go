package durable_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// slowSaga: reserve (idempotent), ship (waits at g once recovered),
// notify.
func slowSaga(c *calls, g *gate) *saga.Saga[Order] {
	step := func(name string) func(context.Context, *Order) error {
		return func(context.Context, *Order) error { c.inc(name); return nil }
	}
	return saga.New[Order]().Name("slow").
		Step("reserve", step("reserve"), step("undo reserve"), saga.Idempotent()).
		Step("ship", func(ctx context.Context, _ *Order) error {
			c.inc("ship")
			return g.wait(ctx)
		}, step("undo ship")).
		Step("notify", step("notify"), nil).
		Build()
}

// crashSlow leaves a run of slowSaga crashed at reserve: its end is lost.
func crashSlow(t *testing.T, store journal.Store, c *calls, g *gate, id string) {
	t.Helper()
	dead := durable.NewEngine(crashAfter(store, 0), durable.WithOwner("dead"), durable.WithLeaseTTL(ttl))
	d, _ := durable.Register(dead, slowSaga(c, g))
	if _, err := d.Run(saga.WithRunID(context.Background(), id), &Order{}); !errors.Is(err, errCrash) {
		t.Fatalf("want the simulated crash, got %v", err)
	}
}

// A recovered run that takes long does not hold up the worker: a run that
// crashes meanwhile is recovered while the first one still runs.
func TestWorkDrivesRunsConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := journal.NewMemory()
		var c calls
		g := newGate()
		crashSlow(t, store, &c, g, "run-a")
		worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
		_, _ = durable.Register(worker, slowSaga(&c, g))
		_, _ = durable.Register(worker, orderSaga(&c, saga.Idempotent()))
		ctx, cancel := context.WithCancel(context.Background())
		worked := make(chan error)
		go func() { worked <- worker.Work(ctx, time.Second) }()

		time.Sleep(2 * ttl)
		<-g.entered // run-a is in its long step
		crashRun(t, store, orderSaga(&c, saga.Idempotent()), 1, &Order{})
		time.Sleep(2 * ttl)
		is.Equal(mustLoad(t, store, "run-c").Status, journal.Succeeded) // recovered meanwhile
		is.Equal(mustLoad(t, store, "run-a").Status, journal.Running)

		g.release()
		time.Sleep(time.Second)
		synctest.Wait()
		is.Equal(mustLoad(t, store, "run-a").Status, journal.Succeeded)
		cancel()
		is.True(errors.Is(<-worked, context.Canceled))
	})
}

// Stopping a worker stops its runs at a step boundary: nothing is
// compensated, the lease is released, and another worker carries the run
// on forward.
func TestWorkShutdownStopsAtAStepBoundary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := journal.NewMemory()
		var c calls
		g := newGate()
		crashSlow(t, store, &c, g, "run-a")
		worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
		_, _ = durable.Register(worker, slowSaga(&c, g))
		ctx, cancel := context.WithCancel(context.Background())
		worked := make(chan error)
		go func() { worked <- worker.Work(ctx, time.Second) }()
		time.Sleep(2 * ttl)
		<-g.entered // ship is running

		cancel() // shutdown: ship is not interrupted
		synctest.Wait()
		select {
		case <-worked:
			t.Fatal("Work returned while a step it drives was still running")
		default:
		}
		g.release()
		is.True(errors.Is(<-worked, context.Canceled))
		run, entries, _ := store.Load(context.Background(), "run-a")
		is.Equal(run.Status, journal.Running) // left for another worker
		is.Equal(run.LeaseOwner, "")          // at once: the lease is released
		last := entries[len(entries)-1]
		is.Equal(last.Kind, journal.StepSucceeded) // ship's end is journaled
		is.Equal(last.Step, "ship")
		is.Equal(c.get("undo ship"), 0)
		is.Equal(c.get("undo reserve"), 0)
		is.Equal(c.get("notify"), 0)

		next := durable.NewEngine(store, durable.WithOwner("next"), durable.WithLeaseTTL(ttl))
		_, _ = durable.Register(next, slowSaga(&c, g))
		n, err := next.Recover(context.Background(), 0)
		is.NoErr(err)
		is.Equal(n, 1)
		is.Equal(mustLoad(t, store, "run-a").Status, journal.Succeeded)
		is.Equal(c.get("ship"), 1) // not run again
		is.Equal(c.get("notify"), 1)
	})
}

// Bad arguments give clear errors, or a panic at setup with a message
// that says what is wrong, never a crash in a background goroutine.
func TestBadInput(t *testing.T) {
	is := is.New(t)
	_, err := durable.Register(nil, orderSaga(&calls{}))
	is.True(err != nil && strings.Contains(err.Error(), "nil Engine"))

	var msg any
	func() {
		defer func() { msg = recover() }()
		durable.NewEngine(journal.NewMemory(), durable.WithLeaseTTL(2*time.Nanosecond))
	}()
	s, _ := msg.(string)
	is.True(strings.Contains(s, "lease TTL 2ns is below the minimum"))

	// Work with no interval uses the default one.
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := journal.NewMemory()
		var c calls
		crashRun(t, store, orderSaga(&c, saga.Idempotent()), 1, &Order{})
		e := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
		_, _ = durable.Register(e, orderSaga(&c, saga.Idempotent()))
		ctx, cancel := context.WithTimeout(context.Background(), 2*ttl)
		defer cancel()
		var worked atomic.Bool
		go func() { _ = e.Work(ctx, 0); worked.Store(true) }()
		time.Sleep(3 * ttl)
		is.True(worked.Load())
		is.Equal(mustLoad(t, store, "run-c").Status, journal.Succeeded)
	})
}

// An operator whose call is cancelled mid-step leaves the run at the next
// step boundary for a worker, compensating nothing.
func TestVerbCancelledStopsAtAStepBoundary(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c calls
	g, fail := newGate(), true
	step := func(name string) func(context.Context, *Order) error {
		return func(context.Context, *Order) error { c.inc(name); return nil }
	}
	sg := saga.New[Order]().Name("order").
		Step("reserve", step("reserve"), step("undo reserve")).
		Step("ship", func(ctx context.Context, _ *Order) error {
			c.inc("ship")
			if fail {
				return errShip
			}
			return g.wait(ctx)
		}, step("undo ship")).
		Step("notify", step("notify"), nil).
		Build()
	e := durable.NewEngine(store)
	d, _ := durable.Register(e, sg, durable.PauseOnFailure())
	_, _ = d.Run(saga.WithRunID(context.Background(), "run-1"), &Order{})
	fail = false
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Resume(ctx, "run-1", "go on")
		done <- err
	}()
	<-g.entered
	cancel() // ship is not interrupted
	g.release()
	err := <-done
	is.True(errors.Is(err, durable.ErrStopping))
	run, entries, _ := store.Load(context.Background(), "run-1")
	is.Equal(run.Status, journal.Running) // left for a worker
	is.Equal(run.LeaseOwner, "")
	last := entries[len(entries)-1]
	is.Equal(last.Kind, journal.StepSucceeded) // ship's end is journaled
	is.Equal(c.get("undo reserve"), 0)
	is.Equal(c.get("notify"), 0)
	n, err := e.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(mustLoad(t, store, "run-1").Status, journal.Succeeded)
	is.Equal(c.get("ship"), 2) // the failed one, the resumed one: not a third
	is.Equal(c.get("notify"), 1)
}

package durable_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// gate blocks a step until it is opened, and says when the step entered.
type gate struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 16), open: make(chan struct{})} }

func (g *gate) wait(ctx context.Context) error {
	g.entered <- struct{}{}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// goRun runs d in the background under runID, and sends its error.
func goRun(d *durable.Definition[Order], runID string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := d.Run(saga.WithRunID(context.Background(), runID), &Order{})
		done <- err
	}()
	return done
}

// gatedSaga is reserve, then ship, which waits at g (if ship is not
// failing) and fails while *fail is set.
func gatedSaga(c *calls, g *gate, fail *bool) *saga.Saga[Order] {
	return saga.New[Order]().Name("order").
		Step("reserve", func(context.Context, *Order) error { c.inc("reserve"); return nil },
			func(context.Context, *Order) error { c.inc("undo reserve"); return nil }).
		Step("ship", func(ctx context.Context, o *Order) error {
			c.inc("ship")
			if *fail {
				return errShip
			}
			return g.wait(ctx)
		}, func(context.Context, *Order) error { c.inc("undo ship"); return nil }).
		Build()
}

// Two operators resume one paused run through the same engine at once:
// the second is refused and nothing runs twice.
func TestConcurrentResumeOneEngine(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	g, fail := newGate(), true
	d, _ := durable.Register(e, gatedSaga(&c, g, &fail), durable.PauseOnFailure())
	_, err := d.Run(saga.WithRunID(context.Background(), "run-1"), &Order{})
	is.True(errors.Is(err, errShip))
	fail = false

	first := make(chan error, 1)
	go func() {
		_, err := e.Resume(context.Background(), "run-1", "first operator")
		first <- err
	}()
	<-g.entered // the first resume is inside ship
	_, err = e.Resume(context.Background(), "run-1", "second operator")
	is.True(errors.Is(err, durable.ErrBusy))
	_, err = e.Compensate(context.Background(), "run-1", "third operator")
	is.True(errors.Is(err, durable.ErrBusy))
	g.release()
	is.NoErr(<-first)
	is.Equal(c.get("ship"), 2) // the failed run, then the first resume: not the second
	is.Equal(c.get("undo ship"), 0)
	run, entries, _ := store.Load(context.Background(), "run-1")
	is.Equal(run.Status, journal.Succeeded)
	for _, e := range entries {
		is.True(e.Note != "second operator" && e.Note != "third operator") // refused before anything was recorded
	}
}

// Compensate on a run the engine's own Run is driving is refused: a step
// is never compensated while it runs.
func TestCompensateDuringRun(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	g, fail := newGate(), false
	d, _ := durable.Register(e, gatedSaga(&c, g, &fail))
	done := goRun(d, "run-1")
	<-g.entered
	_, err := e.Compensate(context.Background(), "run-1", "cancel it")
	is.True(errors.Is(err, durable.ErrBusy))
	g.release()
	is.NoErr(<-done)
	is.Equal(c.get("undo reserve"), 0)
	run, _, _ := store.Load(context.Background(), "run-1")
	is.Equal(run.Status, journal.Succeeded)
}

// A second Run with the ID of a run in progress on the same engine fails
// with ErrExists and leaves the first alone: it finishes, lease intact.
func TestDuplicateRunIDLeavesTheFirst(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	g, fail := newGate(), false
	d, _ := durable.Register(e, gatedSaga(&c, g, &fail))
	done := goRun(d, "order-42")
	<-g.entered
	_, err := d.Run(saga.WithRunID(context.Background(), "order-42"), &Order{})
	is.True(errors.Is(err, journal.ErrExists))
	g.release()
	is.NoErr(<-done) // not ErrLeaseLost
	is.Equal(c.get("reserve"), 1)
	run, _, _ := store.Load(context.Background(), "order-42")
	is.Equal(run.Status, journal.Succeeded)
}

// A Run whose ID is taken in the journal says so plainly, and touches
// nothing: not the run, not its lease.
func TestDuplicateRunIDError(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c calls
	other := durable.NewEngine(store, durable.WithOwner("other"))
	d1, _ := durable.Register(other, orderSaga(&c), durable.PauseOnFailure())
	_, _ = d1.Run(saga.WithRunID(context.Background(), "order-42"), &Order{FailShip: true})
	before, beforeEntries, _ := store.Load(context.Background(), "order-42")

	e := durable.NewEngine(store, durable.WithOwner("mine"))
	d2, _ := durable.Register(e, orderSaga(&c))
	_, err := d2.Run(saga.WithRunID(context.Background(), "order-42"), &Order{})
	is.True(errors.Is(err, journal.ErrExists))
	is.True(!errors.Is(err, durable.ErrJournal)) // not an I/O failure
	is.Equal(err.Error(), `durable: run "order-42" exists`)
	after, afterEntries, _ := store.Load(context.Background(), "order-42")
	is.Equal(after, before)
	is.Equal(len(afterEntries), len(beforeEntries))
	is.Equal(c.get("reserve"), 1) // no step ran for the second Run
}

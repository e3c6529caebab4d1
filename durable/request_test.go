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

// A request made while another engine drives the run is checked when it
// is carried out: the run has succeeded by then, so it is refused.
func TestStaleRequestRefused(t *testing.T) {
	for _, verb := range []string{"compensate", "abandon", "resume"} {
		t.Run(verb, func(t *testing.T) {
			is := is.New(t)
			store := journal.NewMemory()
			var c calls
			g, fail := newGate(), false
			a := durable.NewEngine(store, durable.WithOwner("a"))
			d, _ := durable.Register(a, gatedSaga(&c, g, &fail))
			done := goRun(d, "run-1")
			<-g.entered

			b := durable.NewEngine(store, durable.WithOwner("b"))
			_, _ = durable.Register(b, gatedSaga(&c, g, &fail))
			var err error
			switch verb {
			case "compensate":
				_, err = b.Compensate(context.Background(), "run-1", "customer cancelled")
			case "abandon":
				err = b.Abandon(context.Background(), "run-1", "duplicate")
			case "resume":
				_, err = b.Resume(context.Background(), "run-1", "go on")
			}
			is.True(errors.Is(err, journal.ErrLeaseLost)) // a drives it: recorded for later
			g.release()
			is.NoErr(<-done)

			n, err := b.Recover(context.Background(), 0)
			is.NoErr(err)
			is.Equal(n, 1) // the request made the run claimable
			run, entries, _ := store.Load(context.Background(), "run-1")
			is.Equal(run.Status, journal.Succeeded) // not compensated, abandoned or re-run
			is.Equal(run.Request, journal.Request{})
			is.Equal(c.get("undo reserve"), 0)
			is.Equal(c.get("ship"), 1)
			last := entries[len(entries)-1]
			is.Equal(last.Kind, journal.RequestCarriedOut)
			is.True(strings.HasPrefix(last.Note, "refused: ")) // the journal says it was refused
		})
	}
}

// Resolve and Abandon run no saga code: they work on runs whose saga is
// not registered here, or whose definition changed.
func TestResolveWithoutTheCode(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c calls
	e := durable.NewEngine(store, durable.WithOwner("w1"))
	d, _ := durable.Register(e, orderSaga(&c), durable.PauseOnFailure())
	for _, id := range []string{"a", "b"} {
		_, _ = d.Run(saga.WithRunID(context.Background(), id), &Order{FailShip: true})
	}
	bare := durable.NewEngine(store, durable.WithOwner("ops")) // registers nothing
	is.NoErr(bare.Resolve(context.Background(), "a", "shipped by hand"))
	changed := durable.NewEngine(store, durable.WithOwner("v2"))
	_, _ = durable.Register(changed, saga.New[Order]().Name("order").
		Step("ship", func(context.Context, *Order) error { return nil }, nil).Build())
	is.NoErr(changed.Abandon(context.Background(), "b", "duplicate order"))
	a, _, _ := store.Load(context.Background(), "a")
	b, _, _ := store.Load(context.Background(), "b")
	is.Equal(a.Status, journal.Resolved)
	is.Equal(b.Status, journal.Abandoned)
	is.Equal(a.Request, journal.Request{}) // nothing left pending
	is.True(strings.Contains(a.Error, "courier unavailable"))
	is.Equal(a.Note, "shipped by hand")
}

// Compensate on a run in compensation_failed runs the failed
// compensation again, and the report agrees with the journal.
func TestCompensateCompensationFailed(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	refundDown := true
	var c calls
	d, _ := durable.Register(e, refundSaga(&c, &refundDown))
	_, err := d.Run(saga.WithRunID(context.Background(), "run-f"), &Order{})
	is.True(errors.Is(err, saga.ErrCompensationFailed))

	_, err = e.Compensate(context.Background(), "run-f", "still down")
	is.True(errors.Is(err, saga.ErrCompensationFailed)) // it ran again and failed again
	is.Equal(c.get("refund"), 2)
	run, _, _ := store.Load(context.Background(), "run-f")
	is.Equal(run.Status, journal.CompensationFailed)

	refundDown = false
	rep, err := e.Compensate(context.Background(), "run-f", "refund service is back")
	is.NoErr(err)
	is.Equal(c.get("refund"), 3)
	run, _, _ = store.Load(context.Background(), "run-f")
	is.Equal(run.Status, journal.Compensated)
	is.Equal(rep.Status, saga.StatusCompensated) // report and journal agree
	is.True(strings.Contains(run.Error, "courier unavailable"))
}

// The report a verb returns is the run's whole story, as Inspect tells
// it: its own start, every step in a final status, no negative offsets.
func TestVerbReportIsTheWholeRun(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	d, _ := durable.Register(e, orderSaga(&c), durable.PauseOnFailure())
	first, _ := d.Run(saga.WithRunID(context.Background(), "run-v"), &Order{FailShip: true})
	rep, err := e.Compensate(context.Background(), "run-v", "customer cancelled")
	is.NoErr(err)
	is.Equal(rep.Start, first.Start.Round(0).UTC()) // the run's start, not the verb's
	is.True(strings.Contains(rep.Err.Error(), "courier unavailable"))
	is.Equal(len(rep.Steps), 3)
	for _, s := range rep.Steps {
		is.True(!s.Start.Before(rep.Start)) // no negative offsets
		is.True(s.Status != saga.StepRunning && s.Status != saga.StepPending)
	}
	v, _ := durable.Inspect(context.Background(), store, "run-v")
	is.Equal(rep.String(), v.Report.String())
}

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

func TestInspect(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	d, _ := durable.Register(e, orderSaga(&c), durable.PauseOnFailure())
	_, _ = d.Run(saga.WithRunID(context.Background(), "run-i"), &Order{FailShip: true})

	v, err := durable.Inspect(context.Background(), store, "run-i")
	is.NoErr(err)
	is.Equal(v.Run.Status, journal.Paused)
	is.Equal(v.Report.Status, saga.StatusPaused)
	is.Equal(len(v.Report.Steps), 3)
	ship, _ := v.Report.Step("ship")
	is.Equal(ship.Status, saga.StepFailed)
	is.True(strings.Contains(ship.Err.Error(), "courier unavailable"))
	is.True(!ship.Start.IsZero())
	is.True(strings.Contains(v.Report.String(), "ship     failed")) // the inspect table

	_, err = durable.Inspect(context.Background(), store, "nope")
	is.True(errors.Is(err, journal.ErrNotFound))
}

// The journal keeps the plan of a definition that ran, once per
// fingerprint, for tools that have no code.
func TestPlanRecorded(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c counter
	sg := fanSaga(&c, func(context.Context, string) error { return nil })
	d, err := durable.Register(e, sg)
	is.NoErr(err)
	_, err = store.LoadPlan(context.Background(), sg.Plan().Fingerprint())
	is.True(errors.Is(err, journal.ErrNotFound)) // nothing before a run
	_, err = d.Run(saga.WithRunID(context.Background(), "fan-p"), &Trip{})
	is.NoErr(err)
	p, err := store.LoadPlan(context.Background(), mustLoad(t, store, "fan-p").Fingerprint)
	is.NoErr(err)
	is.Equal(p.Saga, "fan")
	is.Equal(len(p.Steps), 4)
	is.Equal(p.Steps[3], journal.PlanStep{Name: "confirm", Kind: "compensatable", After: []string{"flight", "hotel"}})
}

// Inspect lists the steps that never started as pending, in declaration
// order, as the in-memory report does.
func TestInspectListsPendingSteps(t *testing.T) {
	is := is.New(t)
	s := newShop(t)
	_, err := s.d.Run(saga.WithRunID(context.Background(), "order-9"), &Shop{})
	is.True(errors.Is(err, durable.ErrWaiting))
	view, err := durable.Inspect(context.Background(), s.store, "order-9")
	is.NoErr(err)
	var names []string
	for _, st := range view.Report.Steps {
		names = append(names, st.Name+" "+st.Status.String())
	}
	is.Equal(names, []string{"reserve succeeded", "pay running", "ship pending"})
	is.True(!strings.Contains(view.Report.String(), "ended:"))
}

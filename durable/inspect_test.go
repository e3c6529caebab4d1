package durable_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
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

// planCounter counts SavePlan calls and fails the first fail of them.
type planCounter struct {
	*journal.Memory
	saves atomic.Int32
	fail  atomic.Int32
}

func (p *planCounter) SavePlan(ctx context.Context, pl journal.Plan) error {
	p.saves.Add(1)
	if p.fail.Add(-1) >= 0 {
		return errors.New("plans table locked")
	}
	return p.Memory.SavePlan(ctx, pl)
}

// A definition saves its plan at its first run and not again; a save
// that fails is logged, does not stop the run, and is tried at the next
// run.
func TestPlanSavedOnce(t *testing.T) {
	is := is.New(t)
	store := &planCounter{Memory: journal.NewMemory()}
	store.fail.Store(1)
	var logs syncLog
	e := durable.NewEngine(store, durable.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	var c counter
	d, err := durable.Register(e, fanSaga(&c, func(context.Context, string) error { return nil }))
	is.NoErr(err)
	for _, id := range []string{"fan-1", "fan-2", "fan-3"} {
		_, err := d.Run(saga.WithRunID(context.Background(), id), &Trip{})
		is.NoErr(err)
	}
	is.Equal(store.saves.Load(), int32(2)) // failed at the first run, saved at the second
	is.Equal(strings.Count(logs.String(), "plan not saved"), 1)
	_, err = store.LoadPlan(context.Background(), mustLoad(t, store, "fan-3").Fingerprint)
	is.NoErr(err)
}

// The run's header carries its latest snapshot once its status changes:
// a run paused at a failure holds, in its header, the effects of the
// steps before it, for tools that read only headers (List).
func TestHeaderStateCatchesUpAtAPause(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	d, err := durable.Register(e, orderSaga(&c), durable.PauseOnFailure())
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(context.Background(), "run-h"), &Order{FailShip: true})
	is.True(errors.Is(err, errShip))
	runs, err := store.List(context.Background(), journal.Filter{})
	is.NoErr(err)
	is.Equal(len(runs), 1)
	is.Equal(runs[0].Status, journal.Paused)
	var o Order
	is.NoErr(jsonDecode(runs[0].State, &o))
	is.Equal(o.Steps, []string{"reserve", "charge"})
}

// A run started to be driven by any worker is pending until a worker
// takes it; its first write marks it running, while its steps run.
func TestStartedRunIsRunningOnceDriven(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	g := newGate()
	var c calls
	d, err := durable.Register(e, saga.New[Order]().Name("order").
		Step("reserve", func(context.Context, *Order) error { c.inc("reserve"); return nil }, nil).
		Step("ship", func(ctx context.Context, _ *Order) error { return g.wait(ctx) }, nil).
		Build())
	is.NoErr(err)
	id, err := d.Start(ctx, &Order{})
	is.NoErr(err)
	is.Equal(mustLoad(t, store, id).Status, journal.Pending)
	done := make(chan error, 1)
	go func() { _, err := e.Recover(ctx, 0); done <- err }()
	<-g.entered
	run := mustLoad(t, store, id)
	is.Equal(run.Status, journal.Running) // reserve's end marked it running
	var o Order
	is.NoErr(jsonDecode(run.State, &o))
	is.Equal(c.get("reserve"), 1)
	g.release()
	is.NoErr(<-done)
	is.Equal(mustLoad(t, store, id).Status, journal.Succeeded)
}

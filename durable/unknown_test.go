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

// pivotSaga: reserve, then charge (the pivot, not idempotent; with a
// refund if refund), then ship (retriable, after the point of no return).
func pivotSaga(c *calls, refund bool) *saga.Saga[Order] {
	step := func(name string) func(context.Context, *Order) error {
		return func(context.Context, *Order) error { c.inc(name); return nil }
	}
	var undoCharge func(context.Context, *Order) error
	if refund {
		undoCharge = step("undo charge")
	}
	return saga.New[Order]().Name("order").
		Step("reserve", step("reserve"), step("undo reserve")).
		Step("charge", step("charge"), undoCharge, saga.Pivot()).
		Step("ship", step("ship"), nil, saga.Retriable()).
		Build()
}

// chargeFirstSaga: charge (the pivot, not idempotent, with a refund),
// then ship (retriable).
func chargeFirstSaga(c *calls) *saga.Saga[Order] {
	step := func(name string) func(context.Context, *Order) error {
		return func(context.Context, *Order) error { c.inc(name); return nil }
	}
	return saga.New[Order]().Name("order").
		Step("charge", step("charge"), step("undo charge"), saga.Pivot()).
		Step("ship", step("ship"), nil, saga.Retriable()).
		Build()
}

// recoverAfterCrash crashes a run of sg with its second step's outcome
// lost (the write of its end: charge's in pivotSaga), then recovers it
// with def's options.
func recoverAfterCrash(t *testing.T, sg *saga.Saga[Order], opts ...durable.DefOption) (journal.Store, journal.Run) {
	t.Helper()
	return recoverAfterCrashAt(t, sg, 1, opts...)
}

// recoverAfterCrashAt is recoverAfterCrash with step n's outcome lost
// (0 for the first step).
func recoverAfterCrashAt(t *testing.T, sg *saga.Saga[Order], n int, opts ...durable.DefOption) (journal.Store, journal.Run) {
	t.Helper()
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	crashRun(t, store, sg, n, &Order{})
	worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
	if _, err := durable.Register(worker, sg, opts...); err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * ttl)
	if n, err := worker.Recover(context.Background(), 0); n != 1 || err != nil {
		t.Fatalf("recover: %d runs, %v", n, err)
	}
	run, _, _ := store.Load(context.Background(), "run-c")
	return store, run
}

// A crash while a pivot that is not idempotent ran: its outcome is
// unknown, so recovery neither takes it for a success nor re-runs it.
func TestUnknownPivotPauses(t *testing.T) {
	is := is.New(t)
	var c calls
	_, run := recoverAfterCrash(t, pivotSaga(&c, true))
	is.Equal(run.Status, journal.Paused) // for a person to decide
	is.True(strings.Contains(run.Error, durable.ErrOutcomeUnknown.Error()))
	is.True(strings.Contains(run.Error, `"charge"`))
	is.Equal(c.get("charge"), 1) // not run again
	is.Equal(c.get("ship"), 0)   // not taken past the pivot
	is.Equal(c.get("undo reserve"), 0)
}

// A pivot that is the run's first step (charge, then retriable steps)
// pauses too when its outcome is unknown: it is neither compensated nor
// run again.
func TestUnknownFirstStepPivotPauses(t *testing.T) {
	is := is.New(t)
	var c calls
	_, run := recoverAfterCrashAt(t, chargeFirstSaga(&c), 0) // charge's end is lost
	is.Equal(run.Status, journal.Paused)
	is.True(strings.Contains(run.Error, `"charge"`))
	is.Equal(c.get("charge"), 1)
	is.Equal(c.get("undo charge"), 0)
	is.Equal(c.get("ship"), 0)
}

// Past a first-step pivot, a retriable step whose outcome is unknown runs
// again, even for a definition that pauses on failure: recovery can go
// forward, and there is no way back to pause for.
func TestUnknownStepPastFirstStepPivotRunsAgain(t *testing.T) {
	is := is.New(t)
	var c calls
	_, run := recoverAfterCrashAt(t, chargeFirstSaga(&c), 1, durable.PauseOnFailure()) // ship's end is lost
	is.Equal(run.Status, journal.Succeeded)
	is.Equal(c.get("charge"), 1)
	is.Equal(c.get("ship"), 2)
	is.Equal(c.get("undo charge"), 0)
}

// Under CompensateAfterCrash, a pivot whose outcome is unknown and that
// has a compensation is compensated, with everything before it.
func TestUnknownPivotCompensated(t *testing.T) {
	is := is.New(t)
	var c calls
	_, run := recoverAfterCrash(t, pivotSaga(&c, true), durable.OnCrash(durable.CompensateAfterCrash))
	is.Equal(run.Status, journal.Compensated)
	is.Equal(c.get("undo charge"), 1)
	is.Equal(c.get("undo reserve"), 1)
	is.Equal(c.get("ship"), 0)
}

// Without a compensation, an unknown pivot pauses under either policy.
func TestUnknownPivotWithoutCompensationPauses(t *testing.T) {
	is := is.New(t)
	var c calls
	_, run := recoverAfterCrash(t, pivotSaga(&c, false), durable.OnCrash(durable.CompensateAfterCrash))
	is.Equal(run.Status, journal.Paused)
	is.Equal(c.get("undo reserve"), 0)
	is.Equal(c.get("ship"), 0)
}

// A run that pauses for a person at a failure pauses at an unknown
// outcome too: recovery does not compensate it on its own.
func TestPauseOnFailureCrashPauses(t *testing.T) {
	is := is.New(t)
	var c calls
	store, run := recoverAfterCrash(t, orderSaga(&c), durable.PauseOnFailure())
	is.Equal(run.Status, journal.Paused)
	is.True(strings.Contains(run.Error, `step "charge"`))
	is.True(strings.Contains(run.Error, durable.ErrOutcomeUnknown.Error()))
	is.Equal(c.get("undo charge"), 0)
	is.Equal(c.get("undo reserve"), 0)
	is.Equal(c.get("charge"), 1)

	// The person checks charge and resumes: it runs again as the same
	// execution, under the same idempotency key.
	e := durable.NewEngine(store, durable.WithOwner("operator"))
	_, _ = durable.Register(e, orderSaga(&c), durable.PauseOnFailure())
	_, entries, err := store.Load(context.Background(), "run-c")
	is.NoErr(err)
	_, err = e.Resume(context.Background(), "run-c", "no charge found: run it again",
		durable.AsOf(entries[len(entries)-1].Seq))
	is.NoErr(err)
	run, _, _ = store.Load(context.Background(), "run-c")
	is.Equal(run.Status, journal.Succeeded)
	var o Order
	is.NoErr(jsonDecode(run.State, &o))
	is.Equal(o.Keys, []string{"run-c/reserve/1", "run-c/charge/1", "run-c/ship/1"})
}

// A run paused on an unknown outcome and then compensated by a person
// keeps the error it paused on: why it ended compensated.
func TestPausedOnUnknownOutcomeCompensatedKeepsItsError(t *testing.T) {
	is := is.New(t)
	var c calls
	store, run := recoverAfterCrash(t, orderSaga(&c), durable.PauseOnFailure())
	is.Equal(run.Status, journal.Paused)
	paused := run.Error
	e := durable.NewEngine(store, durable.WithOwner("operator"))
	_, _ = durable.Register(e, orderSaga(&c), durable.PauseOnFailure())
	_, err := e.Compensate(context.Background(), "run-c", "the bank says it charged: refund")
	is.NoErr(err)
	run = mustLoad(t, store, "run-c")
	is.Equal(run.Status, journal.Compensated)
	is.Equal(run.Error, paused)
	is.Equal(c.get("undo charge"), 1)
	is.Equal(c.get("undo reserve"), 1)
}

// With PauseOnFailure, the crash policy does not apply: a run recovery
// can carry on (here an idempotent step runs again) goes on forward.
func TestPauseOnFailureCrashGoesOnWhenItCan(t *testing.T) {
	is := is.New(t)
	var c calls
	sg := orderSaga(&c, saga.Idempotent()) // charge is idempotent
	_, run := recoverAfterCrash(t, sg, durable.PauseOnFailure(), durable.OnCrash(durable.CompensateAfterCrash))
	is.Equal(run.Status, journal.Succeeded)
	is.Equal(c.get("charge"), 2) // again, under its first key
	is.Equal(c.get("undo reserve"), 0)
}

// Compensate on a crashed run undoes the step that was running too: the
// same rule as recovery's.
func TestCompensateCrashedRunUndoesTheOpenStep(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var c calls
	crashRun(t, store, orderSaga(&c), 1, &Order{}) // charge started, its end lost
	clk.advance(2 * ttl)
	e := durable.NewEngine(store, durable.WithOwner("operator"))
	_, _ = durable.Register(e, orderSaga(&c))
	rep, err := e.Compensate(context.Background(), "run-c", "undo everything")
	is.NoErr(err)
	is.Equal(c.get("undo charge"), 1) // it may have taken effect
	is.Equal(c.get("undo reserve"), 1)
	run, _, _ := store.Load(context.Background(), "run-c")
	is.Equal(run.Status, journal.Compensated)
	var statuses []saga.StepStatus
	for _, s := range rep.Steps {
		statuses = append(statuses, s.Status)
	}
	is.Equal(statuses, []saga.StepStatus{saga.StepCompensated, saga.StepCompensated, saga.StepPending}) // ship never started
}

// A state that cannot be encoded after a step succeeded pauses the run
// (the journal's snapshot is older than its effects), and nothing that
// needs the state is carried out on it.
func TestStateLostAfterStep(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var c calls
	e := durable.NewEngine(store, durable.WithOwner("w1"))
	d, _ := durable.Register(e, orderSaga(&c), durable.WithCodec[Order](failAfter{"charge"}))
	rep, err := d.Run(saga.WithRunID(context.Background(), "run-s"), &Order{})
	is.True(errors.Is(err, durable.ErrStateLost))
	is.Equal(rep.Status, saga.StatusPaused)
	is.Equal(c.get("ship"), 0)
	run, _, _ := store.Load(context.Background(), "run-s")
	is.Equal(run.Status, journal.Paused) // needs a person, not left for a worker
	is.True(strings.Contains(run.Error, "charge"))

	clk.advance(2 * ttl)
	worker := durable.NewEngine(store, durable.WithOwner("w2"))
	_, _ = durable.Register(worker, orderSaga(&c), durable.WithCodec[Order](failAfter{"charge"}))
	n, err := worker.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 0) // nothing for a worker to carry on from an older state
	_, err = worker.Compensate(context.Background(), "run-s", "refund")
	is.True(errors.Is(err, durable.ErrStateLost))
	_, err = worker.Resume(context.Background(), "run-s", "go on")
	is.True(errors.Is(err, durable.ErrStateLost))
	is.Equal(c.get("undo charge"), 0) // never run with a state that lacks charge's effect
	is.Equal(c.get("ship"), 0)
	is.NoErr(worker.Resolve(context.Background(), "run-s", "refunded by hand"))
	run, _, _ = store.Load(context.Background(), "run-s")
	is.Equal(run.Status, journal.Resolved)
}

// failAfter is a JSON codec that cannot encode a state in which step has
// run.
type failAfter struct{ step string }

func (f failAfter) Encode(o *Order) ([]byte, error) {
	for _, s := range o.Steps {
		if s == f.step {
			return nil, errors.New("cannot encode the state after " + f.step)
		}
	}
	return jsonEncode(o)
}

func (f failAfter) Decode(b []byte, o *Order) error { return jsonDecode(b, o) }

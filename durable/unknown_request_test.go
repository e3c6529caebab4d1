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
	"github.com/sagakit/sagakit/sagatest"
)

// requestBeforePause is a store on which an operator's request lands on
// a run just before the write that pauses it: the request was made while
// the run was running, against a run that had not paused yet.
type requestBeforePause struct {
	journal.Store
	req  journal.Request
	made bool
}

func (s *requestBeforePause) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	if u.Status == journal.Paused && !s.made {
		s.made = true
		if err := s.Store.Request(ctx, runID, s.req); err != nil {
			return err
		}
	}
	return s.Store.Append(ctx, runID, owner, u, entries...)
}

// A request to resume a run (or retry its step), made while the run was
// running, is not carried out once recovery has paused the run on the
// unknown outcome of a step that is not idempotent: resuming would run
// the step again under its key, on a decision made before its outcome
// was in question. The request is refused, the refusal journaled with
// why, and the run stays paused for a decision made after the pause.
// The step is the run's second, or its first.
func TestRequestBeforeUnknownPauseRefused(t *testing.T) {
	sagas := map[string]func(*calls) *saga.Saga[Order]{
		"second": func(c *calls) *saga.Saga[Order] { return pivotSaga(c, true) },
		"first":  chargeFirstSaga,
	}
	for _, verb := range []journal.Verb{journal.Resume, journal.RetryStep} {
		for at, sg := range sagas {
			t.Run(string(verb)+"/"+at, func(t *testing.T) { testRequestBeforeUnknownPause(t, verb, sg) })
		}
	}
}

func testRequestBeforeUnknownPause(t *testing.T, verb journal.Verb, sg func(*calls) *saga.Saga[Order]) {
	is := is.New(t)
	ctx := context.Background()
	var clk sagatest.Clock
	mem := journal.NewMemory(journal.WithClock(clk.Now))
	var c calls
	// charge (not idempotent) runs, and its end is lost.
	crashAt(t, sagatest.NewCrashingStore(mem).CrashBefore(journal.StepSucceeded, "charge"), sg(&c), &Order{})

	store := &requestBeforePause{Store: mem, req: journal.Request{Verb: verb, Step: "charge", Note: "looks stuck"}}
	worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
	_, err := durable.Register(worker, sg(&c))
	is.NoErr(err)
	clk.Advance(2 * ttl)            // the dead engine's lease has expired
	_, err = worker.Recover(ctx, 0) // pauses the run; the request lands first
	is.NoErr(err)
	is.True(store.made)
	_, err = worker.Recover(ctx, 0) // the pending request is taken up
	is.True(errors.Is(err, durable.ErrBadRequest))
	refused := err

	run, entries, err := mem.Load(ctx, "run-c")
	is.NoErr(err)
	is.Equal(run.Status, journal.Paused)
	is.Equal(run.Request, journal.Request{}) // refused, not left pending
	is.Equal(c.get("charge"), 1)             // not run again under its key
	is.Equal(c.get("ship"), 0)
	last := entries[len(entries)-1]
	is.Equal(last.Kind, journal.RequestCarriedOut)
	is.Equal(last.Note, "refused: "+refused.Error()) // with why, as the worker reported it
	is.True(strings.Contains(last.Note, "before"))

	// A request made now, after the pause, that names no entry
	// (decided, say, on the run as it ran) is refused too.
	_, err = worker.Resume(ctx, "run-c", "looks stuck")
	is.True(errors.Is(err, durable.ErrBadRequest))
	is.Equal(c.get("charge"), 1)

	// One decided on the journal as it stands is carried out.
	_, entries, err = mem.Load(ctx, "run-c")
	is.NoErr(err)
	_, err = worker.Resume(ctx, "run-c", "checked: the bank has no charge", durable.AsOf(entries[len(entries)-1].Seq))
	is.NoErr(err)
	run, _, err = mem.Load(ctx, "run-c")
	is.NoErr(err)
	is.Equal(run.Status, journal.Succeeded)
	is.Equal(c.get("charge"), 2)
}

// PausedOnUnknownOutcome tells a run paused on an unknown outcome from
// one paused for another reason, and from one that only mentions it.
func TestPausedOnUnknownOutcome(t *testing.T) {
	unknown := durable.ErrOutcomeUnknown.Error() + `: step "ship" was running when the process driving the run stopped`
	for _, tc := range []struct {
		run  journal.Run
		want bool
	}{
		{journal.Run{Status: journal.Paused, Error: unknown}, true},
		{journal.Run{Status: journal.Paused, Error: "charge: card declined"}, false},
		{journal.Run{Status: journal.Running, Error: unknown}, false},
		{journal.Run{Status: journal.Failed, Error: unknown}, false},
	} {
		if got := durable.PausedOnUnknownOutcome(tc.run); got != tc.want {
			t.Errorf("%s run, error %q: got %v, want %v", tc.run.Status, tc.run.Error, got, tc.want)
		}
	}
}

// A request made while the run was running is carried out once the run
// paused on a step's own failure (a known outcome): the refusal above
// is for a step whose outcome is unknown only.
func TestRequestBeforeFailurePauseCarriedOut(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	mem := journal.NewMemory()
	var c calls
	store := &requestBeforePause{Store: mem, req: journal.Request{Verb: journal.Resume, Note: "courier is back"}}
	e := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
	shipFails := true
	sg := saga.New[Order]().Name("order").
		Step("reserve", func(context.Context, *Order) error { c.inc("reserve"); return nil }, nil).
		Step("ship", func(context.Context, *Order) error {
			c.inc("ship")
			if shipFails {
				return errShip
			}
			return nil
		}, nil).
		Build()
	d, err := durable.Register(e, sg, durable.PauseOnFailure())
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(ctx, "run-k"), &Order{})
	is.True(errors.Is(err, errShip))
	is.True(store.made)
	is.Equal(mustLoad(t, mem, "run-k").Status, journal.Paused)

	shipFails = false
	n, err := e.Recover(ctx, 0) // the pending request is taken up
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(mustLoad(t, mem, "run-k").Status, journal.Succeeded)
	is.Equal(c.get("reserve"), 1)
	is.Equal(c.get("ship"), 2)
}

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
	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

// dyingAt wraps a store and dies at the first Append that journals an
// entry at matches: that write and every call after it fail, as in a
// process that died there.
type dyingAt struct {
	journal.Store
	at   func(journal.Entry) bool
	dead atomic.Bool
}

func (s *dyingAt) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	for _, e := range entries {
		if s.at(e) {
			s.dead.Store(true)
		}
	}
	if s.dead.Load() {
		return errCrash
	}
	return s.Store.Append(ctx, runID, owner, u, entries...)
}

func (s *dyingAt) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	if s.dead.Load() {
		return errCrash
	}
	return s.Store.Renew(ctx, runID, owner, ttl)
}

func (s *dyingAt) Release(ctx context.Context, runID, owner string) error {
	if s.dead.Load() {
		return errCrash
	}
	return s.Store.Release(ctx, runID, owner)
}

// A process that dies while compensating, after a compensation failed for
// good, leaves the run compensating; the worker that recovers it tries
// that compensation again with the others, so that the run ends
// compensated once the service is back, not compensation-failed for a
// failure seen before the crash.
func TestCrashAfterAFailedCompensationRetriesIt(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var c calls
	down := true
	undo := func(name string) func(context.Context, *Order) error {
		return func(context.Context, *Order) error {
			c.inc("undo " + name)
			if name == "c" && down {
				return errors.New("c's service down")
			}
			return nil
		}
	}
	ok := func(context.Context, *Order) error { return nil }
	sg := saga.New[Order]().Name("four").WithCompensationRetry(retryOnce).
		Step("a", ok, undo("a")).Step("b", ok, undo("b")).Step("c", ok, undo("c")).
		Step("d", func(context.Context, *Order) error { return errShip }, nil).
		Build()

	dying := &dyingAt{Store: store, at: func(e journal.Entry) bool { return e.Kind == journal.CompStarted && e.Step == "a" }}
	dead := durable.NewEngine(dying, durable.WithOwner("dead"), durable.WithLeaseTTL(ttl))
	d, err := durable.Register(dead, sg)
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(ctx, "run-4"), &Order{})
	is.True(errors.Is(err, errCrash))
	is.Equal(mustLoad(t, store, "run-4").Status, journal.Compensating)
	is.Equal(c.get("undo c"), 1) // failed for good before the crash, and journaled so
	is.Equal(c.get("undo b"), 1)
	_, entries, err := store.Load(ctx, "run-4")
	is.NoErr(err)
	is.True(containsKind(entries, journal.CompFailed))

	down = false
	clk.advance(2 * ttl)
	worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
	_, _ = durable.Register(worker, sg)
	n, err := worker.Recover(ctx, 0)
	is.Equal(n, 1)
	is.NoErr(err) // the saga's own outcome, journaled, is not a failure to drive it
	is.Equal(mustLoad(t, store, "run-4").Status, journal.Compensated)
	is.Equal(c.get("undo c"), 2)
	is.Equal(c.get("undo b"), 2) // its end went with the write that died: at least once
	is.Equal(c.get("undo a"), 1)
}

// A compensation's attempts are journaled with its end, and Inspect
// reports them: here one failure, then a success; one step at a time,
// and in a graph.
func TestCompensationAttemptsJournaled(t *testing.T) {
	for name, opts := range map[string][]saga.StepOption{"sequence": nil, "graph": {saga.After("charge")}} {
		t.Run(name, func(t *testing.T) { testCompensationAttempts(t, opts) })
	}
}

func testCompensationAttempts(t *testing.T, shipOpts []saga.StepOption) {
	synctest.Test(t, func(t *testing.T) { // the retry's wait passes on the bubble's clock
		is := is.New(t)
		ctx := context.Background()
		store := journal.NewMemory()
		e := durable.NewEngine(store)
		calls := 0
		sg := saga.New[Order]().Name("refund").
			WithCompensationRetry(retry.Policy{MaxAttempts: 3, InitialInterval: time.Millisecond}).
			Step("charge", func(context.Context, *Order) error { return nil }, func(context.Context, *Order) error {
				calls++
				if calls == 1 {
					return errors.New("refund service busy")
				}
				return nil
			}).
			Step("ship", func(context.Context, *Order) error { return errShip }, nil, shipOpts...).
			Build()
		d, err := durable.Register(e, sg)
		is.NoErr(err)
		_, err = d.Run(saga.WithRunID(ctx, "run-a"), &Order{})
		is.True(errors.Is(err, errShip))
		is.Equal(calls, 2)
		_, entries, err := store.Load(ctx, "run-a")
		is.NoErr(err)
		var end journal.Entry
		for _, en := range entries {
			if en.Kind == journal.CompSucceeded {
				end = en
			}
		}
		is.Equal(end.Step, "charge")
		is.Equal(end.Attempts, 2)
		view, err := durable.Inspect(ctx, store, "run-a")
		is.NoErr(err)
		charge, _ := view.Report.Step("charge")
		is.True(charge.Compensation != nil)
		is.Equal(charge.Compensation.Attempts, 2)
	})
}

// When a run's last write fails, Run's error says so and keeps the
// run's own outcome: a failed run's error still matches its step's
// error, and a run that succeeded reports only the write.
func TestLastWriteFailureKeepsTheOutcome(t *testing.T) {
	for _, fail := range []bool{true, false} {
		t.Run(map[bool]string{true: "failed run", false: "succeeded run"}[fail], func(t *testing.T) {
			is := is.New(t)
			store := &dyingAt{Store: journal.NewMemory(), at: func(e journal.Entry) bool { return e.Kind == journal.RunEnded }}
			e := durable.NewEngine(store)
			d, err := durable.Register(e, saga.New[Order]().Name("order").
				Step("reserve", func(context.Context, *Order) error { return nil }, func(context.Context, *Order) error { return nil }).
				Step("ship", func(context.Context, *Order) error {
					if fail {
						return errShip
					}
					return nil
				}, nil).
				Build())
			is.NoErr(err)
			_, err = d.Run(saga.WithRunID(context.Background(), "run-l"), &Order{})
			is.True(errors.Is(err, errCrash)) // the write
			is.Equal(errors.Is(err, errShip), fail)
			if !fail {
				is.True(!strings.Contains(err.Error(), "%!w(<nil>)")) // no nil outcome wrapped beside the write
			}
		})
	}
}

package durable_test

import (
	"context"
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

// A waiting step never ends in the journal: an operator compensates the
// run from its wait, the waiting step's compensation is journaled as
// succeeded, and the process dies before the run is compensated. The
// next worker carries on compensating, and must not compensate the
// waiting step again: a compensation journaled as succeeded never runs
// again, even for a step whose own outcome the journal never knew.
func TestCompensatedWaitingStepNotCompensatedAgain(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	var clk sagatest.Clock
	store := journal.NewMemory(journal.WithClock(clk.Now))
	var c counter
	first := durable.NewEngine(store, durable.WithOwner("first"))
	d, err := durable.Register(first, shopSaga(&c))
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(ctx, "o-1"), &Shop{})
	is.True(errors.Is(err, durable.ErrWaiting))

	crash := sagatest.NewCrashingStore(store).CrashAfter(journal.CompSucceeded, "pay")
	dying := durable.NewEngine(crash, durable.WithOwner("dying"))
	_, err = durable.Register(dying, shopSaga(&c))
	is.NoErr(err)
	_, err = dying.Compensate(ctx, "o-1", "no payment")
	is.True(crash.Crashed()) // died with pay's compensation journaled
	is.True(err != nil)
	is.Equal(c.get("refund"), 1)

	next := durable.NewEngine(store, durable.WithOwner("next"))
	_, err = durable.Register(next, shopSaga(&c))
	is.NoErr(err)
	sagatest.Recover(t, next, &clk)
	run, entries, err := store.Load(ctx, "o-1")
	is.NoErr(err)
	is.Equal(run.Status, journal.Compensated)
	is.Equal(c.get("release"), 1)
	is.Equal(c.get("refund"), 1) // pay's compensation, journaled as succeeded, not run again
	n := 0
	for _, e := range entries {
		if e.Kind == journal.CompSucceeded && e.Step == "pay" {
			n++
		}
	}
	is.Equal(n, 1)
}

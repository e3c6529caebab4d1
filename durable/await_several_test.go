package durable_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// Approval is what a step waits for, several times over.
type Approval struct {
	By string
}

// A step that waits several times (an approval, a cooling-off period, a
// second approval) waits at each in turn, and each pass replays the
// outcomes of the waits it passed before, in order: a later signal for
// an event already awaited is not taken in place of the first.
func TestStepWaitsSeveralTimes(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	e := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
	var c counter
	var got []string
	sg := saga.New[Shop]().Name("transfer").
		Step("approve", func(ctx context.Context, _ *Shop) error {
			c.inc("pass")
			first, err := durable.Await[Approval](ctx, "approved", time.Hour)
			if err != nil {
				return err
			}
			if err := durable.Sleep(ctx, 24*time.Hour); err != nil {
				return err
			}
			second, err := durable.Await[Approval](ctx, "countersigned", time.Hour)
			if err != nil {
				return err
			}
			got = append(got, first.By, second.By)
			return nil
		}, nil).
		Build()
	d, err := durable.Register(e, sg)
	is.NoErr(err)
	recover := func() {
		t.Helper()
		if _, err := e.Recover(ctx, 0); err != nil {
			t.Fatalf("recover: %v", err)
		}
	}

	_, err = d.Run(saga.WithRunID(ctx, "transfer-1"), &Shop{})
	is.True(errors.Is(err, durable.ErrWaiting))
	is.Equal(mustLoad(t, store, "transfer-1").Wait.Event, "approved")

	is.NoErr(e.Signal(ctx, "transfer-1", "approved", Approval{By: "ana"}))
	recover()
	run := mustLoad(t, store, "transfer-1")
	is.Equal(run.Status, journal.Waiting)
	is.Equal(run.Wait.Event, "") // the cooling-off timer
	is.True(run.Wait.Until.Equal(clk.now().Add(24 * time.Hour)))

	is.NoErr(e.Signal(ctx, "transfer-1", "approved", Approval{By: "bob"})) // late, and not for this pass
	clk.advance(24 * time.Hour)
	recover()
	run = mustLoad(t, store, "transfer-1")
	is.Equal(run.Status, journal.Waiting)
	is.Equal(run.Wait.Event, "countersigned")

	is.NoErr(e.Signal(ctx, "transfer-1", "countersigned", Approval{By: "cy"}))
	recover()
	is.Equal(mustLoad(t, store, "transfer-1").Status, journal.Succeeded)
	is.Equal(got, []string{"ana", "cy"})
	is.Equal(c.get("pass"), 4) // the first run, then once woken at each wait
	sigs, err := store.Signals(ctx, "transfer-1")
	is.NoErr(err)
	is.Equal(len(sigs), 1) // bob's, never consumed
	is.Equal(sigs[0].Event, "approved")
}

// Sleep for no time, or less, returns nil at once: the step goes on
// without waiting.
func TestSleepForNoTime(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			is := is.New(t)
			store := journal.NewMemory()
			e := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
			var c counter
			sg := saga.New[Shop]().Name("nap").
				Step("nap", func(ctx context.Context, _ *Shop) error {
					c.inc("nap")
					return durable.Sleep(ctx, d)
				}, nil).
				Build()
			def, err := durable.Register(e, sg)
			is.NoErr(err)
			rep, err := def.Run(saga.WithRunID(context.Background(), "nap-1"), &Shop{})
			is.NoErr(err)
			is.Equal(rep.Status, saga.StatusSucceeded)
			is.Equal(c.get("nap"), 1)
			_, entries, err := store.Load(context.Background(), "nap-1")
			is.NoErr(err)
			is.True(!containsKind(entries, journal.StepWaiting))
		})
	}
}

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
	"github.com/sagakit/sagakit/sagatest"
)

// idempotentShop is shopSaga with a pay step that may run again: what it
// does after its wait is keyed by the execution's idempotency key.
func idempotentShop(c *counter) *saga.Saga[Shop] {
	return saga.New[Shop]().Name("shop").
		Step("reserve", func(_ context.Context, s *Shop) error { c.inc("reserve"); s.Reserved = true; return nil },
			func(context.Context, *Shop) error { c.inc("release"); return nil }).
		Step("pay", func(ctx context.Context, s *Shop) error {
			p, err := durable.Await[Payment](ctx, "paid", 30*time.Minute)
			if err != nil {
				return err
			}
			c.inc("paid " + p.ID)
			s.PaymentID = p.ID
			return nil
		}, nil, saga.Idempotent()).
		Step("ship", func(_ context.Context, s *Shop) error { c.inc("ship"); s.Shipped = true; return nil }, nil).
		Build()
}

// The worker that parked runs dies: the runs wait on, a signal wakes one,
// and another worker carries it on.
func TestWaitingRunOutlivesItsWorker(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c counter
	first := durable.NewEngine(store, durable.WithOwner("first"))
	d, _ := durable.Register(first, idempotentShop(&c))
	for _, id := range []string{"o-1", "o-2"} {
		_, err := d.Run(saga.WithRunID(context.Background(), id), &Shop{})
		is.True(errors.Is(err, durable.ErrWaiting))
	}
	// first is gone; the runs hold no lease, so nothing waits for one.
	second := durable.NewEngine(store, durable.WithOwner("second"))
	_, _ = durable.Register(second, idempotentShop(&c))
	is.NoErr(second.Signal(context.Background(), "o-2", "paid", Payment{ID: "p-2"}))
	n, err := second.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(mustLoad(t, store, "o-1").Status, journal.Waiting)
	is.Equal(mustLoad(t, store, "o-2").Status, journal.Succeeded)
	is.Equal(c.get("paid p-2"), 1)
}

// The worker dies while a woken step runs, before the step's end is
// journaled: the event is not consumed yet, so the next worker runs the
// step again (it is idempotent) with the same payload, and the event is
// consumed once.
func TestCrashWhileWokenStepRuns(t *testing.T) {
	is := is.New(t)
	var clk sagatest.Clock
	store := journal.NewMemory(journal.WithClock(clk.Now))
	var c counter
	first := durable.NewEngine(store, durable.WithOwner("first"), durable.WithLeaseTTL(ttl))
	d, _ := durable.Register(first, idempotentShop(&c))
	_, err := d.Run(saga.WithRunID(context.Background(), "o-3"), &Shop{})
	is.True(errors.Is(err, durable.ErrWaiting))
	is.NoErr(first.Signal(context.Background(), "o-3", "paid", Payment{ID: "p-3"}))

	// The woken worker journals pay's start (the run marked running),
	// then dies before pay's end.
	crash := sagatest.NewCrashingStore(store).CrashBefore(journal.StepSucceeded, "pay")
	dying := durable.NewEngine(crash, durable.WithOwner("dying"), durable.WithLeaseTTL(ttl))
	_, _ = durable.Register(dying, idempotentShop(&c))
	_, _ = dying.Recover(context.Background(), 0)
	run := mustLoad(t, store, "o-3")
	is.Equal(run.Status, journal.Running)
	is.Equal(c.get("paid p-3"), 1) // it went past its wait
	sigs, err := store.Signals(context.Background(), "o-3")
	is.NoErr(err)
	is.Equal(len(sigs), 1) // not consumed: its consumption goes with the step's end

	last := durable.NewEngine(store, durable.WithOwner("last"), durable.WithLeaseTTL(ttl))
	_, _ = durable.Register(last, idempotentShop(&c))
	is.Equal(sagatest.Recover(t, last, &clk), 1)
	is.Equal(mustLoad(t, store, "o-3").Status, journal.Succeeded)
	is.Equal(c.get("paid p-3"), 2) // at least once, the same payload
	is.Equal(c.get("ship"), 1)
	sigs, err = store.Signals(context.Background(), "o-3")
	is.NoErr(err)
	is.Equal(len(sigs), 0)
	_, entries, _ := store.Load(context.Background(), "o-3")
	ended := 0
	for _, e := range entries {
		if e.Kind == journal.WaitEnded {
			ended++
		}
	}
	is.Equal(ended, 1)
}

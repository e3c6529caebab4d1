package durable_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// Payment is the payment provider's webhook, as a step receives it.
type Payment struct {
	ID     string
	Amount int
}

// Shop is the state of an order that waits for its payment.
type Shop struct {
	Reserved  bool
	PaymentID string
	Shipped   bool
}

// shopSaga reserves stock, waits up to 30 minutes for the payment, and
// ships; when the payment does not come, the stock is released.
func shopSaga(c *counter) *saga.Saga[Shop] {
	return saga.New[Shop]().Name("shop").
		Step("reserve", func(_ context.Context, s *Shop) error { c.inc("reserve"); s.Reserved = true; return nil },
			func(_ context.Context, s *Shop) error { c.inc("release"); s.Reserved = false; return nil }).
		Step("pay", func(ctx context.Context, s *Shop) error {
			c.inc("pay")
			p, err := durable.Await[Payment](ctx, "paid", 30*time.Minute)
			if err != nil {
				return err
			}
			c.inc("paid")
			s.PaymentID = p.ID
			return nil
		}, func(context.Context, *Shop) error { c.inc("refund"); return nil }).
		Step("ship", func(_ context.Context, s *Shop) error { c.inc("ship"); s.Shipped = true; return nil }, nil).
		Build()
}

// shop is an engine with the shop saga registered, on a memory store
// whose clock the test moves.
type shop struct {
	store *journal.Memory
	clk   *clock
	e     *durable.Engine
	d     *durable.Definition[Shop]
	c     counter
}

func newShop(t *testing.T) *shop {
	t.Helper()
	s := &shop{clk: newClock()}
	s.store = journal.NewMemory(journal.WithClock(s.clk.now))
	s.e = durable.NewEngine(s.store, durable.WithLeaseTTL(ttl))
	d, err := durable.Register(s.e, shopSaga(&s.c))
	if err != nil {
		t.Fatal(err)
	}
	s.d = d
	return s
}

// recover drives what needs a worker, once.
func (s *shop) recover(t *testing.T) int {
	t.Helper()
	n, err := s.e.Recover(context.Background(), 0)
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	return n
}

// An event that comes after the run waits: the run waits holding
// nothing, the signal wakes it, the step runs again and goes on with the
// payload.
func TestAwaitEventAfterWait(t *testing.T) {
	is := is.New(t)
	s := newShop(t)
	var st Shop
	_, err := s.d.Run(saga.WithRunID(context.Background(), "order-1"), &st)
	is.True(errors.Is(err, durable.ErrWaiting))
	run := mustLoad(t, s.store, "order-1")
	is.Equal(run.Status, journal.Waiting)
	is.Equal(run.LeaseOwner, "") // holds nothing
	is.Equal(run.Wait.Event, "paid")
	is.True(run.Wait.Until.Equal(s.clk.now().Add(30 * time.Minute))) // on the store's clock
	is.Equal(s.recover(t), 0)                                        // nothing to do until the event comes

	is.NoErr(s.e.Signal(context.Background(), "order-1", "paid", Payment{ID: "pay-7", Amount: 5}))
	is.Equal(s.recover(t), 1)
	run = mustLoad(t, s.store, "order-1")
	is.Equal(run.Status, journal.Succeeded)
	is.Equal(run.Wait, journal.Wait{})
	is.Equal(s.c.get("reserve"), 1)
	is.Equal(s.c.get("pay"), 2) // before the wait, and when woken
	is.Equal(s.c.get("paid"), 1)
	is.Equal(s.c.get("ship"), 1)
	rep, err := s.e.Wait(context.Background(), "order-1")
	is.NoErr(err)
	is.Equal(rep.Status, saga.StatusSucceeded)
	view, err := durable.Inspect(context.Background(), s.store, "order-1")
	is.NoErr(err)
	is.True(strings.Contains(string(view.State), `"PaymentID":"pay-7"`))
	sigs, err := s.store.Signals(context.Background(), "order-1")
	is.NoErr(err)
	is.Equal(len(sigs), 0) // consumed
}

// An event that comes before the step waits is kept and consumed when it
// does: the run never waits.
func TestAwaitEventBeforeWait(t *testing.T) {
	is := is.New(t)
	s := newShop(t)
	id, err := s.d.Start(saga.WithRunID(context.Background(), "order-2"), &Shop{})
	is.NoErr(err)
	is.NoErr(s.e.Signal(context.Background(), id, "paid", Payment{ID: "early"}))
	is.Equal(s.recover(t), 1)
	run := mustLoad(t, s.store, id)
	is.Equal(run.Status, journal.Succeeded)
	is.Equal(s.c.get("pay"), 1)
	_, entries, _ := s.store.Load(context.Background(), id)
	is.True(!containsKind(entries, journal.StepWaiting))
	is.True(containsKind(entries, journal.WaitEnded))
}

// The same delivery twice is recorded once; without a delivery ID each
// signal is an event of its own, consumed by one wait.
func TestSignalTwice(t *testing.T) {
	is := is.New(t)
	s := newShop(t)
	_, _ = s.d.Run(saga.WithRunID(context.Background(), "order-3"), &Shop{})
	for range 2 {
		is.NoErr(s.e.Signal(context.Background(), "order-3", "paid", Payment{ID: "p"}, durable.Delivery("webhook-1")))
	}
	sigs, err := s.store.Signals(context.Background(), "order-3")
	is.NoErr(err)
	is.Equal(len(sigs), 1)
	is.NoErr(s.e.Signal(context.Background(), "order-3", "paid", Payment{ID: "q"}))
	is.Equal(s.recover(t), 1)
	is.Equal(mustLoad(t, s.store, "order-3").Status, journal.Succeeded)
	is.Equal(s.c.get("paid"), 1)
	sigs, err = s.store.Signals(context.Background(), "order-3")
	is.NoErr(err)
	is.Equal(len(sigs), 1) // the second event is left: nothing waits for it
	is.Equal(sigs[0].Delivery, "")
}

// A signal for an unknown or finished run is refused and changes
// nothing.
func TestSignalRefused(t *testing.T) {
	is := is.New(t)
	s := newShop(t)
	err := s.e.Signal(context.Background(), "nope", "paid", nil)
	is.True(errors.Is(err, journal.ErrNotFound))
	_, _ = s.d.Run(saga.WithRunID(context.Background(), "order-4"), &Shop{})
	is.NoErr(s.e.Signal(context.Background(), "order-4", "paid", Payment{}))
	s.recover(t)
	err = s.e.Signal(context.Background(), "order-4", "paid", Payment{})
	is.True(errors.Is(err, journal.ErrFinal))
	err = s.e.Signal(context.Background(), "order-4", "", nil)
	is.True(errors.Is(err, durable.ErrBadRequest))
	err = s.e.Signal(context.Background(), "order-4", "paid", func() {})
	is.True(err != nil) // cannot encode
}

// The deadline passes on the store's clock: the wait ends with
// ErrWaitTimedOut, which the step returns, and the order is compensated.
func TestAwaitTimesOut(t *testing.T) {
	is := is.New(t)
	s := newShop(t)
	_, _ = s.d.Run(saga.WithRunID(context.Background(), "order-5"), &Shop{})
	s.clk.advance(30*time.Minute - time.Second)
	is.Equal(s.recover(t), 0)
	s.clk.advance(time.Second)
	is.Equal(s.recover(t), 1)
	run := mustLoad(t, s.store, "order-5")
	is.Equal(run.Status, journal.Compensated)
	is.True(strings.Contains(run.Error, durable.ErrWaitTimedOut.Error()))
	is.Equal(s.c.get("release"), 1)
	is.Equal(s.c.get("refund"), 0) // pay failed: not compensated
	is.Equal(s.c.get("ship"), 0)
	_, err := s.e.Wait(context.Background(), "order-5")
	is.True(errors.Is(err, durable.ErrWaitTimedOut))
}

// A durable sleep survives the worker: the run sleeps holding nothing and
// goes on once the time has passed on the store's clock.
func TestSleep(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var c counter
	sg := saga.New[Shop]().Name("trial").
		Step("start", func(context.Context, *Shop) error { c.inc("start"); return nil }, nil).
		Step("charge", func(ctx context.Context, _ *Shop) error {
			if err := durable.Sleep(ctx, 14*24*time.Hour); err != nil {
				return err
			}
			c.inc("charge")
			return nil
		}, nil).
		Build()
	first := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
	d, _ := durable.Register(first, sg)
	_, err := d.Run(saga.WithRunID(context.Background(), "trial-1"), &Shop{})
	is.True(errors.Is(err, durable.ErrWaiting))
	is.Equal(mustLoad(t, store, "trial-1").Status, journal.Waiting)

	// Another worker, after the time has passed.
	clk.advance(14 * 24 * time.Hour)
	later := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
	_, _ = durable.Register(later, sg)
	n, err := later.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(mustLoad(t, store, "trial-1").Status, journal.Succeeded)
	is.Equal(c.get("start"), 1)
	is.Equal(c.get("charge"), 1)
}

// Operators on a waiting run: compensate undoes what may have taken
// effect (the waiting step too), abandon ends it, resume is refused.
func TestWaitingRunOperators(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	s := newShop(t)
	_, _ = s.d.Run(saga.WithRunID(ctx, "order-6"), &Shop{})
	_, err := s.e.Resume(ctx, "order-6", "go on")
	is.True(errors.Is(err, durable.ErrBadRequest))
	is.True(strings.Contains(err.Error(), `waits for event "paid"`)) // says what it waits for
	is.Equal(mustLoad(t, s.store, "order-6").Status, journal.Waiting)

	_, err = s.e.Compensate(ctx, "order-6", "customer cancelled")
	is.True(err == nil || !errors.Is(err, durable.ErrBadRequest))
	run := mustLoad(t, s.store, "order-6")
	is.Equal(run.Status, journal.Compensated)
	is.Equal(run.Wait, journal.Wait{})
	is.Equal(s.c.get("release"), 1)
	is.Equal(s.c.get("refund"), 1) // pay may have taken effect before its wait

	_, _ = s.d.Run(saga.WithRunID(ctx, "order-7"), &Shop{})
	err = s.e.Abandon(ctx, "order-7", "test order")
	is.NoErr(err)
	run = mustLoad(t, s.store, "order-7")
	is.Equal(run.Status, journal.Abandoned)
	is.Equal(run.Wait, journal.Wait{})
	err = s.e.Signal(ctx, "order-7", "paid", Payment{})
	is.True(errors.Is(err, journal.ErrFinal))
}

// Outside a durable run, a wait is an error, not a hang.
func TestAwaitOutsideDurableRun(t *testing.T) {
	is := is.New(t)
	var c counter
	_, err := shopSaga(&c).Run(context.Background(), &Shop{})
	is.True(errors.Is(err, durable.ErrNotDurable))
	is.Equal(c.get("release"), 1)
	is.True(errors.Is(durable.Sleep(context.Background(), time.Second), durable.ErrNotDurable))
}

func containsKind(entries []journal.Entry, k journal.Kind) bool {
	for _, e := range entries {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// A sleeping run is woken by no signal: an event that came early for a
// later step does not make it run again and again.
func TestSleepIgnoresSignals(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var c counter
	sg := saga.New[Shop]().Name("nap").
		Step("nap", func(ctx context.Context, _ *Shop) error {
			c.inc("nap")
			return durable.Sleep(ctx, time.Hour)
		}, nil).
		Step("pay", func(ctx context.Context, _ *Shop) error {
			_, err := durable.Await[Payment](ctx, "paid", time.Hour)
			return err
		}, nil).
		Build()
	e := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
	d, _ := durable.Register(e, sg)
	_, err := d.Run(saga.WithRunID(context.Background(), "nap-1"), &Shop{})
	is.True(errors.Is(err, durable.ErrWaiting))
	is.NoErr(e.Signal(context.Background(), "nap-1", "paid", Payment{ID: "early"}))
	for range 3 {
		n, err := e.Recover(context.Background(), 0)
		is.NoErr(err)
		is.Equal(n, 0) // not woken by the event
	}
	is.Equal(c.get("nap"), 1)
	clk.advance(time.Hour)
	n, err := e.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(mustLoad(t, store, "nap-1").Status, journal.Succeeded) // the early event was kept for pay
}

// Run reports a run that waits as running, not failed.
func TestRunReportsWaitingAsRunning(t *testing.T) {
	is := is.New(t)
	s := newShop(t)
	rep, err := s.d.Run(saga.WithRunID(context.Background(), "order-8"), &Shop{})
	is.True(errors.Is(err, durable.ErrWaiting))
	is.Equal(rep.Status, saga.StatusRunning)
	var se *saga.Error
	is.True(errors.As(err, &se))
	is.Equal(se.Status, saga.StatusRunning)
	pay, _ := rep.Step("pay")
	is.Equal(pay.Status, saga.StepRunning)
}

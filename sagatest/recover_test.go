package sagatest_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

// payment: hold, then pay, which waits for the event "paid".
func (w *world) payment() *saga.Saga[box] {
	pay := func(ctx context.Context, b *box) error {
		n, err := durable.Await[int](ctx, "paid", time.Hour)
		if err != nil {
			return err
		}
		b.N = n
		return w.bank.Do(durable.IdempotencyKey(ctx))
	}
	do := func(ctx context.Context, _ *box) error { return w.bank.Do(durable.IdempotencyKey(ctx)) }
	undo := func(ctx context.Context, _ *box) error { return w.bank.Undo(durable.IdempotencyKey(ctx)) }
	return saga.New[box]().Name("payment").
		Step("hold", w.rec.Action("hold", do), w.rec.Compensation("hold", undo)).
		Step("pay", w.rec.Action("pay", pay), nil, saga.Idempotent()).
		Build()
}

// next is the process that lives on.
func (w *world) next(t *testing.T, sg *saga.Saga[box]) *durable.Engine {
	e := durable.NewEngine(w.store, durable.WithOwner("next"))
	if _, err := durable.Register(e, sg); err != nil {
		t.Fatal(err)
	}
	return e
}

// Crashes around a wait: before the run is journaled waiting, after, and
// once woken, before the wait's end is journaled.
func TestCrashAroundAWait(t *testing.T) {
	for _, tc := range []struct {
		name   string
		crash  func(*sagatest.CrashingStore)
		status journal.Status // after the crash
		signal bool           // before the crash
	}{
		{"before waiting", func(s *sagatest.CrashingStore) { s.CrashBefore(journal.StepWaiting, "pay") }, journal.Running, false},
		{"after waiting", func(s *sagatest.CrashingStore) { s.CrashAfter(journal.StepWaiting, "pay") }, journal.Waiting, false},
		{"woken", func(s *sagatest.CrashingStore) { s.CrashBefore(journal.WaitEnded, "pay") }, journal.Running, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w := newWorld()
			sg := w.payment()
			next := w.next(t, sg)
			if tc.signal {
				first := durable.NewEngine(w.store, durable.WithOwner("first"))
				def, _ := durable.Register(first, sg)
				_, err := def.Run(saga.WithRunID(context.Background(), "o-1"), &box{})
				is.True(errors.Is(err, durable.ErrWaiting))
				is.NoErr(next.Signal(context.Background(), "o-1", "paid", 7))
				crash := sagatest.NewCrashingStore(w.store)
				tc.crash(crash)
				dying := durable.NewEngine(crash, durable.WithOwner("dying"))
				_, _ = durable.Register(dying, sg)
				_, err = dying.Recover(context.Background(), 0)
				is.True(errors.Is(err, sagatest.ErrCrashed))
			} else {
				crash := sagatest.NewCrashingStore(w.store)
				tc.crash(crash)
				w.crash(t, crash, sg)
			}
			is.Equal(w.load(t).Status, tc.status)

			n := sagatest.Recover(t, next, &w.clk)
			if !tc.signal { // the run waits on
				is.Equal(w.load(t).Status, journal.Waiting)
				is.NoErr(next.Signal(context.Background(), "o-1", "paid", 7))
				n = sagatest.Recover(t, next, &w.clk)
			}
			is.Equal(n, 1)
			run := w.load(t)
			is.Equal(run.Status, journal.Succeeded)
			is.Equal(string(run.State), `{"N":7}`)
			is.Equal(w.bank.InEffect("o-1/"), []string{"o-1/hold/1", "o-1/pay/1"})
		})
	}
}

// Without a clock, Recover sleeps until the dead process's lease ends:
// in a synctest bubble, at once.
func TestRecoverSleepsInABubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := journal.NewMemory()
		var rec sagatest.Recorder[box]
		sg := chain(&rec, saga.Idempotent())
		crash := sagatest.NewCrashingStore(store).CrashBefore(journal.StepSucceeded, "b")
		dying := durable.NewEngine(crash, durable.WithOwner("dying"), durable.WithLeaseTTL(time.Hour))
		def, _ := durable.Register(dying, sg)
		_, err := def.Run(saga.WithRunID(context.Background(), "r-1"), &box{})
		is.True(errors.Is(err, sagatest.ErrCrashed))

		next := durable.NewEngine(store, durable.WithOwner("next"))
		_, _ = durable.Register(next, sg)
		start := time.Now()
		is.Equal(sagatest.Recover(t, next, nil), 1)
		is.True(time.Since(start) >= time.Hour)
		run, _, _ := store.Load(context.Background(), "r-1")
		is.Equal(run.Status, journal.Succeeded)
		is.Equal(calls(&rec), []string{"a", "b", "b", "c"})
		is.Equal(sagatest.Recover(t, next, nil), 0) // nothing left
	})
}

// Recover reports a run it cannot drive.
func TestRecoverReports(t *testing.T) {
	is := is.New(t)
	w := newWorld()
	sg := w.saga()
	w.crash(t, sagatest.NewCrashingStore(w.store).CrashBefore(journal.StepSucceeded, "charge"), sg)
	next := durable.NewEngine(w.store, durable.WithOwner("next")) // nothing registered
	s := &spy{TB: t}
	is.Equal(sagatest.Recover(s, next, &w.clk), 1)
	is.True(s.reported() != "")
	is.Equal(w.load(t).Status, journal.Blocked)
}

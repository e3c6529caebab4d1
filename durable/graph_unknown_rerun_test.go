package durable_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

// A graph run whose process died after hotel took effect and before its
// end was journaled: recovery runs flight, car and hotel (their outcomes
// unknown, all idempotent) again; car fails; hotel's re-run is cancelled,
// or never starts. Hotel's first execution took effect: it is
// compensated, once, and nothing of the run stays in effect.

var errNoCar = errors.New("no car left")

// tripHooks says what each step does before it calls the participant in
// one process; a hook's error fails the step with no call.
type tripHooks map[string]func(ctx context.Context) error

// trip is debit; then flight, car and hotel at once; then confirm. Every
// step and compensation calls bank with its idempotency key; undos counts
// each step's compensations. A timeout > 0 bounds the run's forward work.
func trip(bank *sagatest.Participant, undos map[string]*atomic.Int32, hooks tripHooks, timeout time.Duration) *saga.Saga[Order] {
	b := saga.New[Order]().Name("trip")
	if timeout > 0 {
		b.WithTimeout(timeout)
	}
	step := func(name string, after ...string) {
		act := func(ctx context.Context, _ *Order) error {
			if h := hooks[name]; h != nil {
				if err := h(ctx); err != nil {
					return err
				}
			}
			return bank.Do(durable.IdempotencyKey(ctx))
		}
		undo := func(ctx context.Context, _ *Order) error {
			undos[name].Add(1)
			return bank.Undo(durable.IdempotencyKey(ctx))
		}
		b.Step(name, act, undo, saga.After(after...), saga.Idempotent())
	}
	step("debit")
	step("flight", "debit")
	step("car", "debit")
	step("hotel", "debit")
	step("confirm", "flight", "car", "hotel")
	return b.Build()
}

func TestGraphUnknownRerunCancelledIsCompensated(t *testing.T) {
	stores := map[string]func(t *testing.T, clk *sagatest.Clock) journal.Store{
		"memory": func(_ *testing.T, clk *sagatest.Clock) journal.Store {
			return journal.NewMemory(journal.WithClock(clk.Now))
		},
		"sqlite": func(t *testing.T, clk *sagatest.Clock) journal.Store {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "journal.db"), sqlite.WithClock(clk.Now))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	cases := []struct {
		name string
		// cancelled: hotel's re-run starts and is cancelled by car's
		// failure; otherwise it never starts (one step at a time, car
		// before it).
		cancelled bool
		// deadline: the saga's deadline, not a sibling, ends hotel's
		// re-run, and car succeeds.
		deadline bool
		// crashAgain: the recovering process dies too, before hotel's
		// compensation starts (with deadline: before any compensation,
		// the run not yet journaled compensating); a third one, with no
		// deadline, finishes the run from the journal. After a deadline it
		// goes on forward: hotel runs again as the same execution (its
		// cancelled re-run left its outcome unknown) and the run succeeds.
		crashAgain bool
	}{
		{name: "cancelled", cancelled: true},
		{name: "never started"},
		{name: "cancelled, then a crash before its compensation", cancelled: true, crashAgain: true},
		{name: "never started, then a crash before its compensation", crashAgain: true},
		{name: "cut by the deadline", deadline: true},
		{name: "cut by the deadline, then a crash before any compensation", deadline: true, crashAgain: true},
	}
	for sname, open := range stores {
		for _, c := range cases {
			t.Run(sname+"/"+c.name, func(t *testing.T) {
				is := is.New(t)
				ctx := context.Background()
				var (
					clk  sagatest.Clock
					bank sagatest.Participant
				)
				undos := map[string]*atomic.Int32{}
				for _, n := range []string{"debit", "flight", "car", "hotel", "confirm"} {
					undos[n] = new(atomic.Int32)
				}
				store := open(t, &clk)

				// The process that dies: flight, car and hotel start
				// together; hotel takes effect and the process dies before
				// anything more is journaled.
				crash := sagatest.NewCrashingStore(store)
				var arrived sync.WaitGroup
				arrived.Add(3)
				dead := make(chan struct{})
				sibling := func(context.Context) error {
					arrived.Done()
					<-dead
					return sagatest.ErrCrashed // never reached the participant
				}
				first := trip(&bank, undos, tripHooks{
					"flight": sibling,
					"car":    sibling,
					"hotel": func(ctx context.Context) error {
						arrived.Done()
						arrived.Wait()
						if err := bank.Do(durable.IdempotencyKey(ctx)); err != nil {
							return err
						}
						crash.Crash()
						close(dead)
						return nil
					},
				}, 0)
				d, err := durable.Register(durable.NewEngine(crash, durable.WithOwner("dying"), durable.WithLeaseTTL(ttl)), first)
				is.NoErr(err)
				_, err = d.Run(saga.WithRunID(ctx, "t"), &Order{})
				is.True(errors.Is(err, sagatest.ErrCrashed))
				is.Equal(bank.InEffect("t/"), []string{"t/debit/1", "t/hotel/1"})

				// The process that recovers: car fails; hotel's re-run is
				// cancelled, or never starts.
				hotelIn := make(chan struct{})
				hooks := tripHooks{"car": func(context.Context) error { return errNoCar }}
				var opts []durable.DefOption
				var timeout time.Duration
				switch {
				case c.deadline:
					timeout = 100 * time.Millisecond // long enough for flight and car to succeed first
					hooks["car"] = nil
					hooks["hotel"] = func(ctx context.Context) error {
						<-ctx.Done()
						return context.Cause(ctx)
					}
				case c.cancelled:
					hooks["car"] = func(context.Context) error {
						<-hotelIn
						return errNoCar
					}
					hooks["hotel"] = func(ctx context.Context) error {
						close(hotelIn)
						<-ctx.Done()
						return context.Cause(ctx)
					}
				default:
					opts = append(opts, durable.Limit(1))
					hooks["hotel"] = func(context.Context) error {
						t.Error("hotel ran again: want it never started (car, before it, failed)")
						return nil
					}
				}
				var rstore journal.Store = store
				switch {
				case c.crashAgain && c.deadline:
					rstore = sagatest.NewCrashingStore(store).CrashBefore(journal.CompStarted, "")
				case c.crashAgain:
					rstore = sagatest.NewCrashingStore(store).CrashBefore(journal.CompStarted, "hotel")
				}
				worker := durable.NewEngine(rstore, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
				_, err = durable.Register(worker, trip(&bank, undos, hooks, timeout), opts...)
				is.NoErr(err)
				if c.crashAgain {
					clk.Advance(2 * ttl) // the dying process's lease expires
					n, err := worker.Recover(ctx, 0)
					is.Equal(n, 1)
					is.True(errors.Is(err, sagatest.ErrCrashed))
					is.Equal(undos["hotel"].Load(), int32(0))
					last := durable.NewEngine(store, durable.WithOwner("last"))
					lastHooks := tripHooks{"hotel": func(context.Context) error {
						t.Error("hotel ran again while compensating")
						return nil
					}}
					if c.deadline {
						lastHooks = nil
					}
					_, err = durable.Register(last, trip(&bank, undos, lastHooks, 0))
					is.NoErr(err)
					is.Equal(sagatest.Recover(t, last, &clk), 1)
				} else {
					is.Equal(sagatest.Recover(t, worker, &clk), 1)
				}

				run, entries, err := store.Load(ctx, "t")
				is.NoErr(err)
				if c.deadline && c.crashAgain {
					if run.Status != journal.Succeeded {
						t.Fatalf("status %s, want succeeded; journal: %v", run.Status, kinds(entries))
					}
					// One effect per step, hotel's under its first key.
					is.Equal(bank.InEffect("t/"), []string{"t/car/1", "t/confirm/1", "t/debit/1", "t/flight/1", "t/hotel/1"})
					is.Equal(undos["hotel"].Load(), int32(0))
					is.NoErr(bank.Err())
					return
				}
				if run.Status != journal.Compensated {
					t.Fatalf("status %s, want compensated; journal: %v", run.Status, kinds(entries))
				}
				is.Equal(undos["hotel"].Load(), int32(1)) // hotel's first execution is undone, once
				_, hotelUndos := bank.Calls("t/hotel/1")
				is.Equal(hotelUndos, 1)
				is.Equal(bank.InEffect("t/"), []string(nil)) // nothing of the run stands
				if !c.deadline {
					// car's first execution was in flight when its process
					// died: its re-run failing (before it reached the bank)
					// does not say the first took no effect, so car is
					// compensated too, under its key; the bank finds
					// nothing to undo.
					_, carUndos := bank.Calls("t/car/1")
					is.True(carUndos >= 1)
				}
				is.NoErr(bank.Err())
			})
		}
	}
}

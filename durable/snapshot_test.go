package durable_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

// Tally is the state of keepSaga: two of its four steps change it.
type Tally struct {
	A, D int
	Seen []string // what the steps that keep the state read
}

// keepSaga's steps a and d change the state; b and c only read it.
// Every step is idempotent, so that a crash in any of them carries the
// run forward.
func keepSaga(c *calls, seen *[]string) *saga.Saga[Tally] {
	change := func(name string, set func(*Tally)) func(context.Context, *Tally) error {
		return func(_ context.Context, t *Tally) error { c.inc(name); set(t); return nil }
	}
	read := func(name string) func(context.Context, *Tally) error {
		return func(_ context.Context, t *Tally) error {
			c.inc(name)
			*seen = append(*seen, fmt.Sprintf("%s saw A=%d D=%d", name, t.A, t.D))
			return nil
		}
	}
	undo := func(context.Context, *Tally) error { return nil }
	return saga.New[Tally]().Name("keep").
		Step("a", change("a", func(t *Tally) { t.A = 1 }), undo, saga.Idempotent()).
		Step("b", read("b"), undo, saga.Idempotent()).
		Step("c", read("c"), undo, saga.Idempotent()).
		Step("d", change("d", func(t *Tally) { t.D = 2 }), undo, saga.Idempotent()).
		Build()
}

// A step that leaves the state as it was journals its success with
// journal.StateKept and no snapshot bytes; the run's state is the newest
// snapshot before it.
func TestUnchangedStateJournalsNoSnapshot(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c calls
	var seen []string
	d, err := durable.Register(durable.NewEngine(store), keepSaga(&c, &seen))
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(context.Background(), "run-k"), &Tally{})
	is.NoErr(err)

	run, entries, err := store.Load(context.Background(), "run-k")
	is.NoErr(err)
	type success struct {
		Step, Note string
		Snapshot   bool
	}
	var got []success
	for _, e := range entries {
		if e.Kind == journal.StepSucceeded {
			got = append(got, success{e.Step, e.Note, e.State != nil})
		}
	}
	want := []success{{"a", "", true}, {"b", journal.StateKept, false}, {"c", journal.StateKept, false}, {"d", "", true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("step successes (-want +got):\n%s", diff)
	}
	is.Equal(run.Status, journal.Succeeded)
	var final Tally
	is.NoErr(jsonDecode(run.State, &final))
	is.Equal(final, Tally{A: 1, D: 2})
	is.Equal(seen, []string{"b saw A=1 D=0", "c saw A=1 D=0"})
}

// A crash at any write of a run whose steps b and c keep the state:
// another worker carries the run on from the newest snapshot, the one
// step a journaled, which is the state after b and c too. Nothing is
// refused as a lost state, and the run ends with every step's effect.
func TestUnchangedStateCrashAtEveryWrite(t *testing.T) {
	const writes = 5 // the creation with a's start, 3 ends with the next start, d's end with the run's
	for n := 1; n <= writes; n++ {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("write%d/after=%v", n, after), func(t *testing.T) {
				is := is.New(t)
				var clk sagatest.Clock
				store := journal.NewMemory(journal.WithClock(clk.Now))
				crash := sagatest.NewCrashingStore(store)
				if after {
					crash.CrashAfterWrite(n)
				} else {
					crash.CrashBeforeWrite(n)
				}
				var c calls
				var seen []string
				dead, err := durable.Register(durable.NewEngine(crash, durable.WithOwner("dead"), durable.WithLeaseTTL(ttl)),
					keepSaga(&c, &seen))
				is.NoErr(err)
				_, err = dead.Run(saga.WithRunID(context.Background(), "run-k"), &Tally{})
				is.True(errors.Is(err, sagatest.ErrCrashed))
				if n == 1 && !after {
					_, _, err := store.Load(context.Background(), "run-k")
					is.True(errors.Is(err, journal.ErrNotFound)) // never created: nothing ran
					return
				}
				if after && n == writes {
					is.Equal(mustLoad(t, store, "run-k").Status, journal.Succeeded) // the last write landed
					return
				}

				worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
				_, err = durable.Register(worker, keepSaga(&c, &seen))
				is.NoErr(err)
				is.Equal(sagatest.Recover(t, worker, &clk), 1)
				run := mustLoad(t, store, "run-k")
				is.Equal(run.Status, journal.Succeeded)
				var final Tally
				is.NoErr(jsonDecode(run.State, &final))
				is.Equal(final, Tally{A: 1, D: 2})
				for _, s := range seen {
					if s != "b saw A=1 D=0" && s != "c saw A=1 D=0" {
						t.Fatalf("a step read a state it should not have: %q", s)
					}
				}
				v, err := durable.Inspect(context.Background(), store, "run-k")
				is.NoErr(err)
				is.Equal(string(v.State), string(run.State))
			})
		}
	}
}

// A step that received an event's payload and then failed pauses the
// run; resuming it carries the run on from the state the journal holds,
// not from the payload, which the journal keeps beside it.
func TestResumeAfterAwaitReadsStateNotPayload(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	e := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
	failed := false
	sg := saga.New[Shop]().Name("shop").
		Step("reserve", func(_ context.Context, s *Shop) error { s.Reserved = true; return nil }, nil).
		Step("pay", func(ctx context.Context, s *Shop) error {
			p, err := durable.Await[Payment](ctx, "paid", time.Hour)
			if err != nil {
				return err
			}
			if !failed {
				failed = true
				return errors.New("ledger unavailable")
			}
			s.PaymentID = p.ID
			return nil
		}, nil).
		Build()
	d, err := durable.Register(e, sg, durable.PauseOnFailure())
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(context.Background(), "order-1"), &Shop{})
	is.True(errors.Is(err, durable.ErrWaiting))
	is.NoErr(e.Signal(context.Background(), "order-1", "paid", Payment{ID: "pay-7", Amount: 5}))
	n, err := e.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(mustLoad(t, store, "order-1").Status, journal.Paused)

	v, err := durable.Inspect(context.Background(), store, "order-1")
	is.NoErr(err)
	var st Shop
	is.NoErr(jsonDecode(v.State, &st))
	is.Equal(st, Shop{Reserved: true}) // the state, not the payment

	_, err = e.Resume(context.Background(), "order-1", "ledger is back")
	is.NoErr(err)
	run := mustLoad(t, store, "order-1")
	is.Equal(run.Status, journal.Succeeded)
	is.NoErr(jsonDecode(run.State, &st))
	is.Equal(st, Shop{Reserved: true, PaymentID: "pay-7"})
}

// keepGraph is keepSaga as a graph: b and c run at once after a, d
// after both; b and d keep the state.
func keepGraph(c *calls) *saga.Saga[Tally] {
	step := func(name string, set func(*Tally)) func(context.Context, *Tally) error {
		return func(_ context.Context, t *Tally) error { c.inc(name); set(t); return nil }
	}
	undo := func(context.Context, *Tally) error { return nil }
	return saga.New[Tally]().Name("keep-graph").
		Step("a", step("a", func(t *Tally) { t.A = 1 }), undo, saga.Idempotent()).
		Step("b", step("b", func(*Tally) {}), undo, saga.Idempotent(), saga.After("a")).
		Step("c", step("c", func(t *Tally) { t.D = 2 }), undo, saga.Idempotent(), saga.After("a")).
		Step("d", step("d", func(*Tally) {}), undo, saga.Idempotent(), saga.After("b", "c")).
		Build()
}

// In a graph run too, a step that keeps the state journals StateKept,
// whichever of its siblings ended first, and a crash at any write is
// carried on from the newest snapshot.
func TestGraphUnchangedState(t *testing.T) {
	is := is.New(t)
	var c calls
	store := journal.NewMemory()
	d, err := durable.Register(durable.NewEngine(store), keepGraph(&c))
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(context.Background(), "run-g"), &Tally{})
	is.NoErr(err)
	_, entries, err := store.Load(context.Background(), "run-g")
	is.NoErr(err)
	kept := map[string]bool{}
	for _, e := range entries {
		if e.Kind == journal.StepSucceeded {
			kept[e.Step] = e.Note == journal.StateKept && e.State == nil
		}
	}
	is.Equal(kept, map[string]bool{"a": false, "b": true, "c": false, "d": true})

	for n := 1; ; n++ {
		var clk sagatest.Clock
		store := journal.NewMemory(journal.WithClock(clk.Now))
		var c calls
		dead, err := durable.Register(durable.NewEngine(sagatest.NewCrashingStore(store).CrashBeforeWrite(n),
			durable.WithOwner("dead"), durable.WithLeaseTTL(ttl)), keepGraph(&c))
		is.NoErr(err)
		_, err = dead.Run(saga.WithRunID(context.Background(), "run-g"), &Tally{})
		if err == nil {
			break // the run has fewer writes
		}
		is.True(errors.Is(err, sagatest.ErrCrashed))
		if n == 1 {
			continue // never created
		}
		worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
		_, err = durable.Register(worker, keepGraph(&c))
		is.NoErr(err)
		is.Equal(sagatest.Recover(t, worker, &clk), 1)
		run := mustLoad(t, store, "run-g")
		is.Equal(run.Status, journal.Succeeded)
		var final Tally
		is.NoErr(jsonDecode(run.State, &final))
		is.Equal(final, Tally{A: 1, D: 2}) // crash before write n
	}
}

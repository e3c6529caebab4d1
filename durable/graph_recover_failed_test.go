package durable_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// A graph run journals a sibling's failure (step_failed) in a write of
// its own, and only later the write that starts compensating (or pauses
// the run). A process that dies between the two leaves a running run
// whose journal holds the failure. Recovery must carry the failure on:
// compensate (or pause, with PauseOnFailure). It must not run the failed
// step again, nor the steps after it.
//
// Here hotel fails in the process that dies, and would succeed if run
// again: recovery runs it again (execution 2), then confirm, and the run
// ends succeeded.
func TestGraphRecoverKeepsAJournaledFailure(t *testing.T) {
	for _, pause := range []bool{false, true} {
		t.Run(fmt.Sprintf("pause=%v", pause), func(t *testing.T) {
			var opts []durable.DefOption
			want := journal.Compensated
			if pause {
				opts, want = []durable.DefOption{durable.PauseOnFailure()}, journal.Paused
			}
			hit := 0
			// Writes are batched as the goroutines meet: sweep again
			// until a crash falls in the window.
			for round := 0; round < 50 && hit == 0; round++ {
				for n := 0; n < 30; n++ {
					clk := newClock()
					store := journal.NewMemory(journal.WithClock(clk.now))
					var c counter
					var full atomic.Bool // the hotel is full in the first process only
					full.Store(true)
					sg := func() *saga.Saga[Trip] {
						step := func(name string) func(context.Context, *Trip) error {
							return func(context.Context, *Trip) error {
								c.inc(name)
								if name == "hotel" && full.Load() {
									return errors.New("hotel full")
								}
								return nil
							}
						}
						undo := func(name string) func(context.Context, *Trip) error {
							return func(context.Context, *Trip) error { c.inc("undo " + name); return nil }
						}
						return saga.New[Trip]().Name("trip").
							Step("debit", step("debit"), undo("debit")).
							Step("flight", step("flight"), undo("flight"), saga.After("debit")).
							Step("hotel", step("hotel"), undo("hotel"), saga.After("debit")).
							Step("confirm", step("confirm"), nil, saga.After("flight", "hotel")).
							Build()
					}
					crash := newRecCrash(store, n)
					dead := durable.NewEngine(crash, durable.WithOwner("dead"), durable.WithLeaseTTL(ttl))
					d, _ := durable.Register(dead, sg(), opts...)
					_, _ = d.Run(saga.WithRunID(context.Background(), "t"), &Trip{})
					if !crash.crashed() {
						break
					}
					run, before, err := store.Load(context.Background(), "t")
					if err != nil || run.Status != journal.Running || !journaledFailure(before, "hotel") {
						continue // not the window
					}
					hit++
					full.Store(false)
					clk.advance(2 * ttl)
					worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
					_, _ = durable.Register(worker, sg(), opts...)
					if _, err := worker.Recover(context.Background(), 0); err != nil {
						t.Fatal(err)
					}
					run, after, _ := store.Load(context.Background(), "t")
					if run.Status != want || c.get("hotel") != 1 || c.get("confirm") != 0 {
						t.Errorf("crash at write %d, the journal holding hotel's failure: recovered to %s, hotel ran %d times, confirm %d; want %s, 1, 0\nbefore: %v\nafter:  %v",
							n+1, run.Status, c.get("hotel"), c.get("confirm"), want, kinds(before), kinds(after))
					}
				}
			}
			if hit == 0 {
				t.Fatal("no crash point left the run running with hotel's failure journaled")
			}
		})
	}
}

func journaledFailure(entries []journal.Entry, step string) bool {
	for _, e := range entries {
		if e.Kind == journal.StepFailed && e.Step == step {
			return true
		}
	}
	return false
}

// craftTrip journals, as a process that died would have left it, a run
// of tripSaga: running, leased to "dead" until its lease expires, with
// entries given as "kind step" ("step_succeeded" entries get the state
// after the steps that succeeded so far).
func craftTrip(t *testing.T, store journal.Store, clk *clock, sg *saga.Saga[Trip], lines ...string) {
	t.Helper()
	var st Trip
	snap := func() []byte {
		b, err := json.Marshal(&st)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := snap()
	entries := []journal.Entry{{Kind: journal.RunStarted, State: first}}
	for _, l := range lines {
		var kind, step string
		fmt.Sscan(l, &kind, &step)
		e := journal.Entry{Kind: journal.Kind(kind), Step: step, Attempt: 1, Attempts: 1}
		switch e.Kind {
		case journal.StepSucceeded:
			switch step {
			case "debit":
				st.Debit = "debit-1"
			case "flight":
				st.Flight = "flight-1"
			case "hotel":
				st.Hotel = "hotel-1"
			case "car":
				st.Car = "car-1"
			}
			st.Booked.Update(func(b []string) []string { return append(b, step) })
			e.State = snap()
		case journal.StepFailed, journal.StepCancelled:
			e.Error = step + " failed"
		}
		entries = append(entries, e)
	}
	run := journal.Run{ID: "t", Saga: sg.Name(), Fingerprint: sg.Plan().Fingerprint(), Status: journal.Running,
		State: first, LeaseOwner: "dead", LeaseExpiry: clk.now().Add(ttl)}
	if err := store.Create(context.Background(), run, entries...); err != nil {
		t.Fatal(err)
	}
}

// The same as TestGraphRecoverKeepsAJournaledFailure on a journal made
// by hand, for a deterministic reproduction: hotel failed (and car was
// cancelled) while flight succeeded, and the process died before the
// write that starts compensating.
func TestGraphRecoverKeepsAJournaledFailureCrafted(t *testing.T) {
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var l tripLog
	sg := tripSaga(&l, func(context.Context, string) error { return nil }) // hotel would succeed now
	craftTrip(t, store, clk, sg,
		"step_started debit", "step_succeeded debit",
		"step_started flight", "step_started hotel", "step_started car",
		"step_failed hotel", "step_cancelled car", "step_succeeded flight")
	clk.advance(2 * ttl)
	worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
	_, _ = durable.Register(worker, sg)
	if _, err := worker.Recover(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	run, entries, _ := store.Load(context.Background(), "t")
	got := l.list()
	slices.Sort(got)
	if run.Status != journal.Compensated || !slices.Equal(got, []string{"undo debit", "undo flight"}) {
		t.Errorf("recovered to %s, the steps did %v; want compensated, flight and debit undone, nothing run\njournal: %v",
			run.Status, l.list(), kinds(entries))
	}
}

// The same as TestGraphRecoveredRunHeaderHoldsTheFinalState on a
// journal made by hand: every step journaled as succeeded, the run not
// ended.
func TestGraphRecoveredRunHeaderHoldsTheFinalStateCrafted(t *testing.T) {
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var l tripLog
	sg := tripSaga(&l, func(context.Context, string) error { return nil })
	craftTrip(t, store, clk, sg,
		"step_started debit", "step_succeeded debit",
		"step_started flight", "step_started hotel", "step_started car",
		"step_succeeded hotel", "step_succeeded car", "step_succeeded flight")
	clk.advance(2 * ttl)
	worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
	_, _ = durable.Register(worker, sg)
	if _, err := worker.Recover(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	run, entries, _ := store.Load(context.Background(), "t")
	var header Trip
	if err := jsonDecode(run.State, &header); err != nil {
		t.Fatal(err)
	}
	if run.Status != journal.Succeeded || header.Car != "car-1" || len(header.Booked.Get()) != 4 || len(l.list()) != 0 {
		t.Errorf("recovered to %s, the header's state %s, the steps did %v; want succeeded, every booking in the header, nothing run\njournal: %v",
			run.Status, run.State, l.list(), kinds(entries))
	}
}

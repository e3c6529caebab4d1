package durable_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/state"
)

// Trip is a graph saga's state: each booking writes its own field, and
// all of them add to Booked.
type Trip struct {
	Debit, Flight, Hotel, Car string
	Booked                    state.Cell[[]string]
}

// tripLog records what a trip's steps did, in order.
type tripLog struct {
	mu  sync.Mutex
	got []string
}

func (l *tripLog) add(s string) {
	l.mu.Lock()
	l.got = append(l.got, s)
	l.mu.Unlock()
}

func (l *tripLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got)
}

// tripSaga books a flight, a hotel and a car at once after debiting the
// card. book decides what a booking does after it has started.
func tripSaga(l *tripLog, book func(ctx context.Context, name string) error) *saga.Saga[Trip] {
	booking := func(name string, field func(*Trip) *string) func(context.Context, *Trip) error {
		return func(ctx context.Context, t *Trip) error {
			l.add("do " + name)
			if err := book(ctx, name); err != nil {
				return err
			}
			*field(t) = name + "-1"
			t.Booked.Update(func(b []string) []string { return append(b, name) })
			return nil
		}
	}
	undo := func(name string) func(context.Context, *Trip) error {
		return func(context.Context, *Trip) error { l.add("undo " + name); return nil }
	}
	return saga.New[Trip]().Name("trip").
		Step("debit", booking("debit", func(t *Trip) *string { return &t.Debit }), undo("debit")).
		Step("flight", booking("flight", func(t *Trip) *string { return &t.Flight }), undo("flight"), saga.After("debit")).
		Step("hotel", booking("hotel", func(t *Trip) *string { return &t.Hotel }), undo("hotel"), saga.After("debit")).
		Step("car", booking("car", func(t *Trip) *string { return &t.Car }), undo("car"), saga.After("debit")).
		Build()
}

// barrier is passed by each of n callers once all n have arrived. It
// panics if they do not arrive together (one runner at a time): a
// failure, not a hang.
func barrier(n int) func() {
	var wg sync.WaitGroup
	wg.Add(n)
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	return func() {
		wg.Done()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			panic("the siblings did not run at once")
		}
	}
}

// The siblings of a durable graph run really overlap (each waits for the
// others to start), each journals its start and end, and the state
// journaled at the end holds every sibling's fields and Cell updates.
func TestGraphSiblingsOverlap(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var l tripLog
	all := barrier(3)
	d, err := durable.Register(e, tripSaga(&l, func(_ context.Context, name string) error {
		if name != "debit" {
			all() // deadlocks unless the three run at once
		}
		return nil
	}))
	is.NoErr(err)
	var trip Trip
	rep, err := d.Run(saga.WithRunID(context.Background(), "trip-1"), &trip)
	is.NoErr(err)
	is.Equal(rep.Status, saga.StatusSucceeded)
	is.Equal(trip.Flight, "flight-1")
	is.Equal(trip.Hotel, "hotel-1")
	is.Equal(trip.Car, "car-1")
	booked := trip.Booked.Get()
	slices.Sort(booked)
	is.Equal(booked, []string{"car", "debit", "flight", "hotel"})

	run, entries, err := store.Load(context.Background(), "trip-1")
	is.NoErr(err)
	is.Equal(run.Status, journal.Succeeded)
	var journaled Trip
	is.NoErr(json.Unmarshal(entries[len(entries)-2].State, &journaled)) // the last step's end
	is.Equal(journaled.Flight, "flight-1")
	is.Equal(journaled.Hotel, "hotel-1")
	is.Equal(journaled.Car, "car-1")
	is.Equal(len(journaled.Booked.Get()), 4)

	// Each sibling's start comes before any sibling's end, and each
	// snapshot holds exactly the bookings journaled as ended before it.
	var ended []string
	firstEnd := -1
	for k, e := range entries {
		switch e.Kind {
		case journal.StepStarted:
			if e.Step != "debit" && firstEnd >= 0 {
				t.Fatalf("%s started after a sibling ended: %v", e.Step, kinds(entries))
			}
		case journal.StepSucceeded:
			if e.Step != "debit" && firstEnd < 0 {
				firstEnd = k
			}
			ended = append(ended, e.Step)
			var snap Trip
			is.NoErr(json.Unmarshal(e.State, &snap))
			got := snap.Booked.Get()
			slices.Sort(got)
			want := slices.Clone(ended)
			slices.Sort(want)
			is.Equal(got, want)
		}
	}

	view, err := durable.Inspect(context.Background(), store, "trip-1")
	is.NoErr(err)
	f, _ := view.Report.Step("flight")
	h, _ := view.Report.Step("hotel")
	is.True(f.Start.Before(h.End) && h.Start.Before(f.End)) // overlapping intervals
}

// A sibling's failure cancels the others (reported and journaled as
// cancelled, not failed), and every step that took effect is compensated
// once, after the steps that depend on it.
func TestGraphFailureCompensates(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var l tripLog
	errFull := errors.New("hotel full")
	all := barrier(3)
	d, err := durable.Register(e, tripSaga(&l, func(ctx context.Context, name string) error {
		switch name {
		case "debit":
			return nil
		case "hotel":
			all()
			return errFull
		case "car":
			all()
			<-ctx.Done()
			return ctx.Err()
		}
		all()
		return nil
	}))
	is.NoErr(err)
	var trip Trip
	rep, err := d.Run(saga.WithRunID(context.Background(), "trip-2"), &trip)
	is.True(errors.Is(err, errFull))
	is.Equal(rep.Status, saga.StatusCompensated)
	for name, want := range map[string]saga.StepStatus{
		"debit": saga.StepCompensated, "flight": saga.StepCompensated,
		"hotel": saga.StepFailed, "car": saga.StepCancelled,
	} {
		s, _ := rep.Step(name)
		is.Equal(s.Status.String(), want.String()) // step
	}
	got := l.list()
	is.True(slices.Index(got, "undo flight") < slices.Index(got, "undo debit"))
	is.Equal(slices.Index(got, "undo hotel"), -1)
	is.Equal(slices.Index(got, "undo car"), -1)

	run, entries, err := store.Load(context.Background(), "trip-2")
	is.NoErr(err)
	is.Equal(run.Status, journal.Compensated)
	is.True(slices.Contains(kinds(entries), "step_cancelled car"))
	is.True(slices.Contains(kinds(entries), "step_failed hotel"))
	view, err := durable.Inspect(context.Background(), store, "trip-2")
	is.NoErr(err)
	car, _ := view.Report.Step("car")
	is.Equal(car.Status, saga.StepCancelled)
}

// A run of a graph is not carried on by a definition whose dependencies
// changed: the fingerprint covers them, and the run is set aside.
func TestGraphChangedDependenciesRefused(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c counter
	e := durable.NewEngine(store, durable.WithOwner("first"))
	d, err := durable.Register(e, fanSaga(&c, func(context.Context, string) error { return nil }))
	is.NoErr(err)
	id, err := d.Start(saga.WithRunID(context.Background(), "fan-3"), &Trip{})
	is.NoErr(err)

	// The same steps, but hotel now runs after flight.
	noop := func(context.Context, *Trip) error { return nil }
	changed := saga.New[Trip]().Name("fan").
		Step("debit", noop, noop).
		Step("flight", noop, noop, saga.After("debit")).
		Step("hotel", noop, noop, saga.After("flight")).
		Step("confirm", noop, nil, saga.After("flight", "hotel")).
		Build()
	other := durable.NewEngine(store, durable.WithOwner("second"))
	_, err = durable.Register(other, changed)
	is.NoErr(err)
	n, err := other.Recover(context.Background(), 0)
	is.Equal(n, 1)
	is.True(errors.Is(err, durable.ErrDefinitionChanged))
	is.Equal(mustLoad(t, store, id).Status, journal.Blocked)
	is.Equal(c.get("debit"), 0)
}

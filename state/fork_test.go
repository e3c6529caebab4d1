package state_test

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/state"
)

type address struct {
	City, Street string
}

type booking struct {
	ID       string
	FlightID string
	HotelID  string
	Nights   int
	Tags     map[string]string
	Home     address
	When     time.Time
	Booked   state.Cell[[]string]
	Total    state.Cell[int]
	note     string // not carried by the codec
}

// snapshot encodes b as a run would journal it.
func snapshot[S any](t testing.TB, s *S) []byte {
	t.Helper()
	data, err := state.JSON[S]{}.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func fork[S any](t testing.TB, snap []byte) *state.Fork[S] {
	t.Helper()
	f, err := state.NewFork(state.JSON[S]{}, snap)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestForkDisjointFields(t *testing.T) {
	is := is.New(t)
	run := &booking{ID: "b1"}
	snap := snapshot(t, run)
	flight, hotel := fork[booking](t, snap), fork[booking](t, snap)
	flight.State.FlightID = "F1"
	hotel.State.HotelID = "H1"
	hotel.State.Nights = 3
	flight.Merge(run)
	hotel.Merge(run)
	is.Equal(run.ID, "b1")
	is.Equal(run.FlightID, "F1")
	is.Equal(run.HotelID, "H1")
	is.Equal(run.Nights, 3)
}

func TestForkNestedFields(t *testing.T) {
	is := is.New(t)
	run := &booking{Home: address{City: "Oslo", Street: "Storgata"}}
	snap := snapshot(t, run)
	a, b := fork[booking](t, snap), fork[booking](t, snap)
	a.State.Home.City = "Bergen"
	b.State.Home.Street = "Bryggen"
	a.Merge(run)
	b.Merge(run)
	is.Equal(run.Home, address{City: "Bergen", Street: "Bryggen"})
}

func TestForkUnchangedKeepsEarlierMerge(t *testing.T) {
	is := is.New(t)
	run := &booking{FlightID: "old", Tags: map[string]string{"k": "old"}}
	snap := snapshot(t, run)
	a, b := fork[booking](t, snap), fork[booking](t, snap) // b made before a's merge
	a.State.FlightID = "new"
	a.State.Tags["k"] = "new"
	a.Merge(run)
	b.State.HotelID = "H1"
	b.Merge(run)
	is.Equal(run.FlightID, "new")
	is.Equal(run.Tags["k"], "new")
	is.Equal(run.HotelID, "H1")
}

func TestForkSelfEncodingStruct(t *testing.T) {
	is := is.New(t)
	run := &booking{}
	snap := snapshot(t, run)
	f := fork[booking](t, snap)
	when := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.State.When = when
	f.Merge(run)
	is.True(run.When.Equal(when)) // time.Time is one value, not its unexported fields
}

func TestForkCellAppendsFromConcurrentSteps(t *testing.T) {
	is := is.New(t)
	run := &booking{}
	run.Booked.Set([]string{"insurance"})
	run.Total.Set(10)
	snap := snapshot(t, run)
	var (
		mu sync.Mutex // the runner's: merges one at a time
		wg sync.WaitGroup
	)
	for _, item := range []string{"flight", "hotel", "car"} {
		f := fork[booking](t, snap)
		wg.Go(func() {
			f.State.Booked.Update(func(b []string) []string { return append(b, item) })
			f.State.Total.With(func(n *int) { *n += 100 })
			mu.Lock()
			defer mu.Unlock()
			f.Merge(run)
		})
	}
	wg.Wait()
	got := run.Booked.Get()
	slices.Sort(got[1:])
	is.Equal(got, []string{"insurance", "car", "flight", "hotel"})
	is.Equal(run.Total.Get(), 310)
}

func TestForkCellSetReplaysAsSet(t *testing.T) {
	is := is.New(t)
	run := &booking{}
	run.Booked.Set([]string{"a"})
	snap := snapshot(t, run)
	a, b := fork[booking](t, snap), fork[booking](t, snap)
	a.State.Booked.Update(func(s []string) []string { return append(s, "b") })
	a.Merge(run)
	b.State.Booked.Set([]string{"reset"})
	b.State.Booked.Update(func(s []string) []string { return append(s, "c") })
	b.Merge(run)
	is.Equal(run.Booked.Get(), []string{"reset", "c"})
}

func TestForkCellUntouchedIsNoOp(t *testing.T) {
	is := is.New(t)
	run := &booking{}
	snap := snapshot(t, run)
	f := fork[booking](t, snap)
	run.Total.Set(7) // written since the snapshot
	f.Merge(run)
	is.Equal(run.Total.Get(), 7)
}

func TestForkLeavesUnexportedAlone(t *testing.T) {
	is := is.New(t)
	run := &booking{note: "kept"}
	snap := snapshot(t, run)
	f := fork[booking](t, snap)
	f.State.ID = "b2"
	f.Merge(run)
	is.Equal(run.note, "kept")
	is.Equal(run.ID, "b2")
}

type inner struct {
	Seen  string
	Count state.Cell[int]
	skip  string
}

type embedding struct {
	inner // unexported, but its exported fields are promoted and encoded
	Name  string
}

func TestForkPromotedFields(t *testing.T) {
	is := is.New(t)
	run := &embedding{}
	run.skip = "kept"
	snap := snapshot(t, run)
	f := fork[embedding](t, snap)
	f.State.Seen = "yes"
	f.State.Count.Update(func(n int) int { return n + 2 })
	f.Merge(run)
	is.Equal(run.Seen, "yes")
	is.Equal(run.Count.Get(), 2)
	is.Equal(run.skip, "kept")
}

func TestForkNonStructState(t *testing.T) {
	is := is.New(t)
	m := map[string]int{"a": 1}
	f := fork[map[string]int](t, snapshot(t, &m))
	(*f.State)["b"] = 2
	f.Merge(&m)
	is.Equal(m, map[string]int{"a": 1, "b": 2})

	n := 5
	unchanged := fork[int](t, snapshot(t, &n))
	n = 6
	unchanged.Merge(&n)
	is.Equal(n, 6) // the fork did not change it
	changed := fork[int](t, snapshot(t, &n))
	*changed.State = 9
	changed.Merge(&n)
	is.Equal(n, 9)
}

func TestForkCellState(t *testing.T) {
	is := is.New(t)
	var run state.Cell[[]int]
	run.Set([]int{1})
	snap := snapshot(t, &run)
	a, b := fork[state.Cell[[]int]](t, snap), fork[state.Cell[[]int]](t, snap)
	a.State.With(func(s *[]int) { *s = append(*s, 2) })
	b.State.With(func(s *[]int) { *s = append(*s, 3) })
	a.Merge(&run)
	b.Merge(&run)
	is.Equal(run.Get(), []int{1, 2, 3})
}

func TestNewForkBadSnapshot(t *testing.T) {
	is := is.New(t)
	_, err := state.NewFork(state.JSON[booking]{}, []byte("{"))
	is.True(err != nil)
	var syntax *json.SyntaxError
	is.True(errors.As(err, &syntax)) // the codec's error
}

func TestForkMergedTwicePanics(t *testing.T) {
	is := is.New(t)
	run := &booking{}
	f := fork[booking](t, snapshot(t, run))
	f.Merge(run)
	defer func() { is.Equal(recover(), "state: Fork merged twice") }()
	f.Merge(run)
}

func add1(n int) int { return n + 1 }

func TestCellNotRecordingDoesNotAllocate(t *testing.T) {
	is := is.New(t)
	var c state.Cell[int]
	allocs := testing.AllocsPerRun(100, func() {
		c.Update(add1)
		c.Set(c.Get())
	})
	is.Equal(allocs, 0.0) // no log kept outside a Fork
}

func BenchmarkForkMerge(b *testing.B) {
	type small struct {
		ID       string
		FlightID string
		HotelID  string
		Nights   int
		Paid     bool
		Booked   state.Cell[[]string]
	}
	run := &small{ID: "b1", Nights: 2}
	run.Booked.Set([]string{"insurance"})
	snap := snapshot(b, run)
	b.ReportAllocs()
	for b.Loop() {
		f, err := state.NewFork(state.JSON[small]{}, snap)
		if err != nil {
			b.Fatal(err)
		}
		f.State.FlightID = "F1"
		f.State.Booked.With(appendFlight)
		f.Merge(run)
	}
}

func appendFlight(b *[]string) { *b = append((*b)[:1], "flight") }

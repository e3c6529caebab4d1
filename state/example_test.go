package state_test

import (
	"fmt"
	"sync"

	"github.com/sagakit/sagakit/state"
)

// Concurrent steps add to a shared total through a Cell.
func ExampleCell() {
	var total state.Cell[int]
	var wg sync.WaitGroup
	for _, price := range []int{120, 80, 45} {
		wg.Go(func() { total.Update(func(t int) int { return t + price }) })
	}
	wg.Wait()
	fmt.Println(total.Get())
	// Output: 245
}

// Two steps of a durable run run at once, each on its own fork of the
// newest snapshot; their changes are merged into the run's state as they
// end.
func ExampleFork() {
	type Trip struct {
		FlightID string
		HotelID  string
		Booked   state.Cell[[]string]
	}
	codec := state.JSON[Trip]{}
	var run Trip
	snapshot, _ := codec.Encode(&run)

	flight, _ := state.NewFork(codec, snapshot)
	hotel, _ := state.NewFork(codec, snapshot)
	var wg sync.WaitGroup
	wg.Go(func() {
		flight.State.FlightID = "F1"
		flight.State.Booked.Update(func(b []string) []string { return append(b, "flight") })
	})
	wg.Go(func() {
		hotel.State.HotelID = "H1"
		hotel.State.Booked.Update(func(b []string) []string { return append(b, "hotel") })
	})
	wg.Wait()
	flight.Merge(&run)
	hotel.Merge(&run)

	snapshot, _ = codec.Encode(&run)
	fmt.Println(string(snapshot))
	// Output: {"FlightID":"F1","HotelID":"H1","Booked":["flight","hotel"]}
}

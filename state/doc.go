// Package state holds what sagakit provides for saga state types: a
// guarded cell for the fields that concurrent steps share, and the codec
// that turns a state into the snapshots durable journals keep.
//
// # Model
//
// A saga's steps talk through its state, a struct of the user's (S, the
// saga state type). Run one step at a time and any field will do. When
// package parallel runs steps at once, they share one *S: each step should
// write only its own fields, and read the fields of the steps it runs
// after. A field that several concurrent steps must write, a running
// total or a list of booked items, goes in a [Cell]:
//
//	type Trip struct {
//		FlightID string                  // written by "flight" only
//		HotelID  string                  // written by "hotel" only
//		Booked   state.Cell[[]string]    // written by all of them
//	}
//
//	trip.Booked.Update(func(b []string) []string { return append(b, "flight") })
//
// The zero Cell holds the zero value and is ready to use.
//
// # Snapshots
//
// A durable run keeps a snapshot of its state after every step, made by a
// [Codec]; [JSON] is the default. What the codec leaves out (unexported
// fields, with JSON) does not survive a crash: keep in the state what a
// resumed run needs.
//
// # Steps at once in a durable run
//
// A durable run that runs steps at once does not let them share its *S:
// it journals a snapshot whenever a step ends, and encoding the state
// while another step writes to it could catch a field half-written. Each
// step gets a [Fork] instead, its own copy made from the newest snapshot,
// so it sees the effects of the steps that ended before it started. When
// it ends, its changes are merged into the run's state: the fields it
// changed are set, and its [Cell] updates are replayed, so that what
// steps add to a shared Cell all lands. The rule stays the same: each
// step writes its own fields, and a field several steps write is a Cell.
// Replaying calls the functions given to [Cell.Update] and [Cell.With]
// once more, on the run's state: they must change nothing but the value.
package state

package journal

import (
	"context"
	"time"
)

// Wait is what a waiting run waits for (see [Waiting]).
type Wait struct {
	// Event is the name of the event the run waits for; "" when it
	// waits for its deadline alone (a timer): no signal wakes it.
	Event string
	// Until is the deadline, on the store's clock; zero for none.
	Until time.Time
	// Woken: a signal for Event has arrived and is not consumed: the
	// run is claimable now.
	Woken bool
	// Due: Until had passed, on the store's clock, when the store read
	// the header: the run is claimable now.
	Due bool
}

// WaitFor sets a run waiting, in an [Update] with Status [Waiting].
type WaitFor struct {
	Event string // "": a timer, which no signal wakes
	// Until keeps a deadline the store set before (Run.Wait.Until); when
	// it is zero and For > 0, the store sets the deadline to its own
	// clock's now plus For. Neither: no deadline.
	Until time.Time
	For   time.Duration
}

// Signal is an event delivered to a run (durable's Engine.Signal).
type Signal struct {
	ID       int64  // set by the store: increasing within the store
	Event    string // the event's name
	Payload  []byte // the event's data, encoded by the sender
	Delivery string // an ID of the sender's: a delivery already recorded for the run is not recorded again
	At       time.Time
}

// Signaler is implemented by stores that keep events for runs, so that
// steps can wait for them ([Waiting]). The store's Claim claims a waiting
// run, besides the others, once it is woken (a signal it waits for has
// arrived) or its deadline has passed, on the store's clock; and a store
// that implements [Waker] wakes workers when a signal wakes a run.
type Signaler interface {
	// Signal records sig for the run runID, unconsumed, and wakes the
	// run if it waits for sig.Event. A sig whose Delivery is not "" and
	// was recorded for the run before is not recorded again: Signal
	// returns false and no error, even if the run has ended since (a
	// retried delivery is answered as the first one was). Otherwise it
	// fails with ErrNotFound, and with ErrFinal for a run whose status
	// is final (nothing will consume the event). It needs no lease.
	Signal(ctx context.Context, runID string, sig Signal) (recorded bool, err error)

	// Signals returns the run's signals not yet consumed (see
	// Update.Consume), oldest first.
	Signals(ctx context.Context, runID string) ([]Signal, error)
}

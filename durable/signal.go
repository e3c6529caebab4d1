package durable

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sagakit/sagakit/journal"
)

// SignalOption configures [Engine.Signal].
type SignalOption func(*journal.Signal)

// Delivery gives a signal an ID of the sender's: a signal whose delivery
// ID the run has already received is not recorded again, so that a
// retried webhook is consumed once.
func Delivery(id string) SignalOption {
	return func(s *journal.Signal) { s.Delivery = id }
}

// Signal delivers the event named event, with payload encoded as JSON, to
// the run runID: a step of the run waiting for it ([Await]) goes on, and
// a run that waits for it is woken at once (a worker claims it: on this
// engine's store, through the same wake-ups as new runs). An event for
// which no step waits yet is kept, and consumed by the first wait for
// it. A signal whose delivery ID ([Delivery]) the run has received
// before changes nothing and returns nil: a retried webhook is answered
// as the first one was. Signal fails with an error matching
// [journal.ErrNotFound] for an unknown run and [journal.ErrFinal] for one
// that has ended, changing nothing. The store must implement
// [journal.Signaler].
func (e *Engine) Signal(ctx context.Context, runID, event string, payload any, opts ...SignalOption) error {
	s, ok := e.store.(journal.Signaler)
	if !ok {
		return fmt.Errorf("%w: the store (%T) keeps no events", ErrNotDurable, e.store)
	}
	if event == "" {
		return fmt.Errorf("%w: signal to run %s without an event name", ErrBadRequest, runID)
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("durable: signal %q to run %s: payload does not encode as JSON: %w", event, runID, err)
	}
	sig := journal.Signal{Event: event, Payload: data}
	for _, o := range opts {
		if o != nil {
			o(&sig)
		}
	}
	recorded, err := s.Signal(ctx, runID, sig)
	if err != nil {
		return fmt.Errorf("durable: signal %q to run %s: %w", event, runID, err)
	}
	if recorded {
		e.changed(runID, true) // a worker of this engine looks at once
	}
	return nil
}

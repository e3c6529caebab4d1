package durable

import (
	"context"
	"fmt"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// Wait waits until the run runID stops being driven — it ended, or it
// waits for a person (paused, failed, compensation_failed, blocked); a
// run that waits for an event or a timer has not stopped — and
// returns its report, rebuilt from the journal as [Inspect] does, and its
// error: nil for a run that succeeded (or that a person resolved), and
// otherwise a [*saga.Error] with the failed step, the run's status, the
// step's error and every failed compensation (errors.Is(err,
// saga.ErrCompensationFailed) holds when one failed). The errors are
// rebuilt from their journaled text. Wait returns ctx's error if ctx ends
// first.
//
// Wait learns at once of the runs this engine drives, and of the others
// when the store can wake it ([journal.Waker]: a driver releases a run
// when it stops); it polls the store besides (every few milliseconds at
// first, then up to every second).
func (e *Engine) Wait(ctx context.Context, runID string) (*saga.Report, error) {
	stop := e.watch(runID)
	defer stop()
	var wakeups <-chan struct{} // a run was released somewhere: look again soon
	if w, ok := e.store.(journal.Waker); ok {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wakeups = w.Wakeups(wctx)
	}
	poll := 5 * time.Millisecond
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		changed := e.changes(runID)
		v, err := Inspect(ctx, e.store, runID)
		if err != nil {
			return nil, err
		}
		if !v.Run.Status.Unfinished() && v.Run.Status != journal.Waiting {
			return v.Report, runError(v)
		}
		// A run this engine drives tells Wait itself when it changes;
		// the store's wake-ups, which concern every run, only matter for
		// runs driven elsewhere.
		elsewhere := wakeups
		if v.Run.LeaseOwner == e.owner {
			elsewhere = nil
		}
		due := time.Now().Add(poll)
		t.Reset(poll)
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("durable: wait for run %s: %w", runID, context.Cause(ctx))
			case <-changed:
				break wait
			case <-t.C:
				poll = min(2*poll, time.Second)
				break wait
			case <-elsewhere:
				// Look again soon, not at once: a burst of wake-ups, for
				// other runs mostly, costs one load.
				if soon := time.Now().Add(coalesce); soon.Before(due) {
					due, poll = soon, 5*time.Millisecond
					t.Reset(coalesce)
				}
			}
		}
	}
}

// coalesce is how long Wait lets the store's wake-ups gather before it
// looks at its run again.
const coalesce = 10 * time.Millisecond

// runError rebuilds the error of a run that stopped, from its journal.
func runError(v *View) error {
	switch v.Run.Status {
	case journal.Succeeded, journal.Resolved:
		return nil
	}
	rep := v.Report
	e := &saga.Error{Saga: v.Run.Saga, RunID: v.Run.ID, Status: rep.Status}
	if v.Run.Status == journal.Abandoned {
		e.Status = saga.StatusFailed
	}
	for _, s := range rep.Steps {
		if s.Err != nil && e.Step == "" { // in the journal, only a failed execution has an error
			e.Step, e.Err = s.Name, s.Err
		}
		if c := s.Compensation; c != nil && c.Err != nil {
			e.Compensation = append(e.Compensation, &saga.CompensationError{Step: s.Name, Err: c.Err})
		}
	}
	if e.Err == nil {
		e.Err = rebuilt(v.Run.Error)
	}
	return e
}

// watch registers a waiter for runID until stop is called, so that the
// engine tells it when the run changes status here.
func (e *Engine) watch(runID string) (stop func()) {
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	w := e.waiters[runID]
	if w == nil {
		w = &waiter{ch: make(chan struct{})}
		e.waiters[runID] = w
	}
	w.n++
	return func() {
		e.waitMu.Lock()
		defer e.waitMu.Unlock()
		if w.n--; w.n == 0 {
			delete(e.waiters, runID)
		}
	}
}

// waiter is what the waiters of one run share: a channel closed, and
// replaced, when the run changes status here.
type waiter struct {
	ch chan struct{}
	n  int // how many Waits watch the run
}

// changes returns the channel closed the next time runID, which the
// caller watches, changes status here.
func (e *Engine) changes(runID string) <-chan struct{} {
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	return e.waiters[runID].ch
}

// changed tells runID's waiters that it changed status; with needsWorker
// (it was started), it wakes the engine's Work loops too.
func (e *Engine) changed(runID string, needsWorker bool) {
	e.waitMu.Lock()
	if w := e.waiters[runID]; w != nil {
		close(w.ch)
		w.ch = make(chan struct{})
	}
	e.waitMu.Unlock()
	if needsWorker {
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
}

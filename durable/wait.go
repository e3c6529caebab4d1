package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// Wait waits until the run runID stops being driven — it ended, or it
// waits for a person (paused, failed, compensation_failed, blocked) — and
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
	poll := 5 * time.Millisecond
	var wakeups <-chan struct{} // a driver elsewhere released a run: look again
	if w, ok := e.store.(journal.Waker); ok {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wakeups = w.Wakeups(wctx)
	}
	for {
		changed := e.changes()
		v, err := Inspect(ctx, e.store, runID)
		if err != nil {
			return nil, err
		}
		if !v.Run.Status.Unfinished() {
			return v.Report, runError(v)
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("durable: wait for run %s: %w", runID, context.Cause(ctx))
		case <-changed:
			t.Stop()
		case <-wakeups:
			t.Stop()
		case <-t.C:
			poll = min(2*poll, time.Second)
		}
	}
}

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
		e.Err = errors.New(v.Run.Error)
	}
	return e
}

// changes returns a channel closed the next time a run this engine
// drives, or starts, changes status.
func (e *Engine) changes() <-chan struct{} {
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	return e.waitCh
}

// changed wakes the engine's waiters; with needsWorker (a run was
// started), its Work loops too.
func (e *Engine) changed(needsWorker bool) {
	e.waitMu.Lock()
	close(e.waitCh)
	e.waitCh = make(chan struct{})
	e.waitMu.Unlock()
	if needsWorker {
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
}

package durable

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sagakit/sagakit/internal/graph"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/state"
)

// A graph saga's run: its steps run at once, in the order of package
// parallel's rules (internal/graph), each journaled as it starts and
// ends. What the steps share is the driver, under fan's lock: the run's
// state and its newest snapshot, the execution numbers, and the queue of
// entries to journal.
//
// Snapshots: each step runs on a fork of the newest snapshot (package
// state), never on the run's state, so the run's state changes only when
// a step ends, under the lock: its changes are merged in, the state is
// encoded, and the step's end is queued with that snapshot, in one
// critical section. Entries go out in the order they were queued, so the
// newest snapshot in the journal holds the effects of exactly the steps
// journaled as ended before it.
//
// Writes: a step's start must be journaled before it runs, and its end
// soon after it ends. Whoever needs a write finds either none in flight,
// and writes everything queued (its own entries and those queued since the
// last write), or one in flight, and waits for the next: the run's
// concurrent steps share commits, as concurrent runs share the store's.
type fan struct {
	mu      sync.Mutex
	cond    sync.Cond
	queued  uint64 // tickets handed out; ticket n is written once written >= n
	written uint64
	writing bool           // a write is in flight
	status  journal.Status // goes out with the next write
	err     error          // why the run stops: the journal failed, the lease is lost, the engine stops
	failed  bool           // a step failed: the walk cancels the others
	// park is what the step that waits waits for (a graph run waits
	// for one thing at a time), step its index; clash is the error of a
	// second step that waited at the same time.
	park   *journal.WaitFor
	step   int
	clash  error
	armed  bool // a write of what is queued is due within laterWrite
	closed bool // no walk runs: the driver writes by itself
}

func newFan() *fan {
	f := &fan{}
	f.cond.L = &f.mu
	return f
}

// enqueue adds entries to the next write and returns their ticket. The
// caller holds f.mu.
func (r *driver[S]) enqueue(entries ...journal.Entry) uint64 {
	r.pending = append(r.pending, entries...)
	r.fan.queued++
	return r.fan.queued
}

// flush returns once the entries of ticket are journaled, or the error
// that stops the run.
func (r *driver[S]) flush(ticket uint64) error {
	f := r.fan
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.written < ticket && f.err == nil && !f.closed {
		if f.writing {
			f.cond.Wait()
			continue
		}
		f.writing = true
		upto, entries, u := f.queued, r.pending, journal.Update{Status: f.status, Consume: r.consume}
		r.pending, f.status, r.consume = nil, "", nil
		f.mu.Unlock()
		err := r.put(u, entries)
		f.mu.Lock()
		f.writing = false
		if err != nil {
			f.stop(err)
		} else {
			f.written = upto
		}
		f.cond.Broadcast()
	}
	if f.written >= ticket || f.closed && f.err == nil {
		return nil
	}
	return f.err
}

// stop records why the run stops, the first reason only. The caller
// holds f.mu.
func (f *fan) stop(err error) {
	if f.err == nil {
		f.err = err
	}
}

// stopping returns why the run must stop at this step boundary: the
// lease is lost, the engine drains, or an earlier write failed.
func (r *driver[S]) stopping() error {
	f := r.fan
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := lost(r.jctx); err != nil {
		f.stop(err)
	} else if r.drain != nil && r.drain.Err() != nil {
		f.stop(ErrStopping)
	}
	return f.err
}

// forwardGraph runs every step not restored as succeeded, each once the
// steps it runs after have succeeded, then ends the run as forward does.
func (r *driver[S]) forwardGraph() (*saga.Report, error) {
	fctx := r.x.Context()
	steps := r.x.Report().Steps
	r.fan.open()
	ok := graph.Forward(fctx, r.d.sg.Plan(), r.d.limit, func(ctx context.Context, i int) error {
		if steps[i].Status == saga.StepSucceeded {
			return nil // restored from the journal
		}
		if ctx.Err() != nil || r.stopping() != nil {
			return graph.ErrStop
		}
		return r.step(ctx, i)
	})
	f := r.fan
	f.close()
	if f.park != nil && f.failed {
		// A step failed while another waited: the one that waited may
		// have taken effect before its wait, so it is undone as one
		// whose outcome is unknown.
		r.x.Restore(f.step, saga.StepReport{Status: saga.StepSucceeded, Start: r.x.Report().Steps[f.step].Start, Err: ErrOutcomeUnknown})
	}
	if !ok && (f.failed || fctx.Err() != nil) {
		r.stillUnknown()
	}
	switch {
	case ok:
		return r.end(journal.Succeeded)
	case f.err != nil && !errors.Is(f.err, ErrStopping):
		return r.halt(f.err) // nothing more may be written
	case f.clash != nil:
		r.x.Halt(f.clash)
		r.x.Pause()
		return r.pauseRun()
	case f.park != nil && !f.failed:
		return r.park(f.step, f.park)
	case f.err != nil && !f.failed:
		return r.stopHere()
	case r.lostState != nil:
		r.x.Halt(r.lostState)
		r.x.Pause()
		return r.pauseRun()
	case r.d.pause && !r.pastPivot():
		r.x.Pause()
		return r.pauseRun()
	case r.x.Abort():
		return r.backward()
	}
	return r.end(journal.Failed)
}

// stillUnknown restores as of unknown outcome, to be compensated if the
// run unwinds, each step the walk was to run again as the same execution
// (its outcome was lost to a crash, or it waited) whose re-run settled
// nothing: it was cancelled, cut by the end of the run's context, or it
// never started. The execution it was to run again may have taken
// effect; only a re-run that succeeds, or fails of its own, says what
// there is to undo. Replay reads the journal alike: a re-run journaled
// as cancelled leaves the step's outcome unknown.
func (r *driver[S]) stillUnknown() {
	fctx := r.x.Context()
	for i, s := range r.x.Report().Steps {
		if !r.again[i] {
			continue
		}
		switch {
		case s.Status == saga.StepPending:
			r.x.Restore(i, saga.StepReport{Status: saga.StepSucceeded, Err: ErrOutcomeUnknown})
		case s.Status == saga.StepCancelled || s.Status == saga.StepFailed && (endOf(fctx, s.Err) || r.unsettled(i)):
			r.x.Restore(i, saga.StepReport{Status: saga.StepSucceeded, Start: s.Start, End: s.End,
				Err: fmt.Errorf("%w (its re-run: %w)", ErrOutcomeUnknown, s.Err)})
		}
	}
}

// endOf reports whether err is the end of ctx: ctx is done, and err is
// its error or its cause.
func endOf(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, ctx.Err()) || errors.Is(err, context.Cause(ctx)))
}

// stopHere leaves the run where it is for another worker, once what is
// queued is journaled: the engine is stopping.
func (r *driver[S]) stopHere() (*saga.Report, error) {
	if len(r.pending) > 0 || r.fan.status != "" {
		status := r.fan.status
		r.fan.status = ""
		if err := r.last(journal.Update{Status: status}); err != nil {
			return r.halt(err)
		}
	}
	return r.halt(ErrStopping)
}

// step journals step i's start, runs it on a fork of the newest snapshot,
// merges its changes into the run's state and journals its end with the
// new snapshot. It returns the step's error, or graph.ErrStop when the
// run must stop (the step's end is then not journaled if the lease is
// lost, since another worker may own the run).
func (r *driver[S]) step(ctx context.Context, i int) error {
	f := r.fan
	name := r.name(i)
	f.mu.Lock()
	if !r.again[i] {
		r.attempt[i]++
	}
	attempt := r.attempt[i]
	fork, ferr := state.NewFork(r.d.codec, r.snap)
	ticket := r.enqueue(journal.Entry{Kind: journal.StepStarted, Step: name, Attempt: attempt, At: time.Now()})
	f.mu.Unlock()
	if ferr != nil {
		// The newest snapshot was made by this codec: it decodes, unless
		// the codec is broken.
		f.mu.Lock()
		f.stop(fmt.Errorf("%w: step %q: state snapshot cannot be decoded: %w", ErrJournal, name, ferr))
		f.mu.Unlock()
		return graph.ErrStop
	}
	if err := r.flush(ticket); err != nil {
		return graph.ErrStop
	}
	if lerr := r.live(); lerr != nil {
		f.mu.Lock()
		f.stop(lerr) // the lease ran out before the step was called
		f.mu.Unlock()
		return graph.ErrStop
	}
	w := r.waits(i)
	err := r.x.ActOn(withWaits(withKey(ctx, r.runID, name, attempt), w), i, fork.State)
	if lerr := lost(r.jctx); lerr != nil {
		f.mu.Lock()
		f.stop(lerr) // another worker may own the run by now: journal nothing
		f.mu.Unlock()
		return graph.ErrStop
	}
	park, ended := w.result()
	sr := r.x.Report().Steps[i]
	end := journal.Entry{Step: name, Attempt: attempt, Attempts: sr.Attempts, At: time.Now()}
	f.mu.Lock()
	r.pending = append(r.pending, ended...)
	r.consume = append(r.consume, r.pool.drain()...)
	if park != nil || errors.Is(err, saga.ErrSuspended) {
		// The step waits: its changes are dropped (it runs again from
		// the snapshot).
		switch {
		case park == nil:
			f.clash = fmt.Errorf("durable: step %q returned %w without waiting (Await or Sleep)", name, err)
		case f.park != nil:
			f.clash = fmt.Errorf("durable: steps %q and %q wait at once: a graph run waits for one event or timer at a time", r.name(f.step), name)
		default:
			// The steps that do not run after it go on; the run
			// waits once they have ended.
			f.park, f.step = park, i
			f.mu.Unlock()
			return graph.ErrHold
		}
		f.mu.Unlock()
		return graph.ErrStop
	}
	fork.Merge(r.st)
	switch {
	case err != nil:
		end.Kind, end.Error = journal.StepFailed, err.Error()
		if sr.Status == saga.StepCancelled || r.again[i] && endOf(ctx, err) {
			// A sibling's failure cancelled it, or the run's end cut a
			// re-run: the step did not fail of its own (see stillUnknown).
			end.Kind = journal.StepCancelled
		}
		f.failed = true
	default:
		end.Kind = journal.StepSucceeded
		snap, cerr := r.d.codec.Encode(r.st)
		if cerr != nil {
			// Journal the success without a snapshot, so that no one
			// carries the run on from an older state, and stop.
			if r.lostState == nil {
				r.lostState = fmt.Errorf("%w: step %q: %w", ErrStateLost, name, cerr)
			}
			err = graph.ErrStop
			break
		}
		r.snapshot(&end, snap)
	}
	ticket = r.enqueue(end)
	if err == nil {
		// A success goes out with the next write (the start of a step it
		// released, most often), as one at a time a step's end goes out
		// with the next start; within a millisecond in any case.
		r.later()
		f.mu.Unlock()
		return nil
	}
	f.mu.Unlock()
	_ = r.flush(ticket) // a failure to write stops the run: forwardGraph finds it in f.err
	return err
}

// laterWrite is how long a step's end may wait for a write to go out
// with.
const laterWrite = time.Millisecond

// later makes sure that what is queued is written within laterWrite. The
// caller holds f.mu.
func (r *driver[S]) later() {
	f := r.fan
	if f.armed {
		return
	}
	f.armed = true
	time.AfterFunc(laterWrite, func() {
		f.mu.Lock()
		f.armed = false
		t := f.queued
		f.mu.Unlock()
		_ = r.flush(t) // a failure stops the run: the walk finds it at the next boundary
	})
}

// open lets the walk's steps write through flush.
func (f *fan) open() {
	f.mu.Lock()
	f.closed = false
	f.mu.Unlock()
}

// close waits for the write in flight, if any, and makes later flushes
// return at once: the walk has ended, and the driver writes what is
// queued itself, with the run's next status.
func (f *fan) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.writing {
		f.cond.Wait()
	}
	f.closed = true
}

// backwardGraph compensates the steps that need it, each after every
// step that depends on it, independent ones at once, journaling each
// compensation's start and end, then ends the run.
func (r *driver[S]) backwardGraph() (*saga.Report, error) {
	plan := r.d.sg.Plan()
	steps := r.x.Report().Steps
	f := r.fan
	f.status = journal.Compensating // with the first compensation's start
	ran := graph.Ran(plan, func(i int) bool { return steps[i].Status != saga.StepPending })
	f.open()
	graph.Backward(plan, r.d.limit, ran, func(i int) {
		if !r.x.Compensable(i) || r.stopping() != nil {
			return
		}
		r.compensate(i)
	})
	f.close()
	switch {
	case f.err != nil && !errors.Is(f.err, ErrStopping):
		return r.halt(f.err)
	case f.err != nil:
		return r.stopHere()
	}
	if f.status != "" {
		f.status = "" // nothing was compensated: the run ends at once
	}
	return r.compensated()
}

// compensate journals step i's compensation's start, runs it, and
// journals its end.
func (r *driver[S]) compensate(i int) {
	f := r.fan
	name := r.name(i)
	f.mu.Lock()
	attempt := r.attempt[i]
	ticket := r.enqueue(journal.Entry{Kind: journal.CompStarted, Step: name, Attempt: attempt, At: time.Now()})
	f.mu.Unlock()
	if r.flush(ticket) != nil {
		return
	}
	if lerr := r.live(); lerr != nil {
		f.mu.Lock()
		f.stop(lerr)
		f.mu.Unlock()
		return
	}
	err := r.x.CompensateContext(withKey(r.x.CompensationContext(), r.runID, name, attempt), i)
	if lerr := lost(r.jctx); lerr != nil {
		f.mu.Lock()
		f.stop(lerr)
		f.mu.Unlock()
		return
	}
	end := journal.Entry{Kind: journal.CompSucceeded, Step: name, Attempt: attempt, At: time.Now()}
	if c := r.x.Report().Steps[i].Compensation; c != nil {
		end.Attempts = c.Attempts
	}
	if err != nil {
		end.Kind, end.Error = journal.CompFailed, err.Error()
	}
	f.mu.Lock()
	ticket = r.enqueue(end)
	f.mu.Unlock()
	_ = r.flush(ticket) // a failure stops the run: backwardGraph halts it
}

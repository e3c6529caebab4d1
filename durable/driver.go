package durable

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// driver drives one journaled run: it runs steps through the saga's
// Execution and journals each step's start and end, a step's end going
// out with the next step's start.
type driver[S any] struct {
	d       *Definition[S]
	x       *saga.Execution[S]
	st      *S
	jctx    context.Context // for journal writes: not cancelled by the caller, ended if the lease is lost
	drain   context.Context // when it ends, stop at the next step boundary (nil: never)
	runID   string
	order   []int
	attempt []int           // executions of each step so far
	again   []bool          // re-run the step as the same execution (its outcome was lost)
	pending []journal.Entry // entries that go out with the next write
	snap    []byte          // the newest state snapshot, in the journal's entries
	dirty   bool            // snap is newer than the header's state
	create  *journal.Run    // a new run, created by the first write
	// keep is the run's error when an operator's request drives it: the
	// run keeps it unless a step fails anew.
	keep *string
	// started: the run is pending (Definition.Start) and this driver is
	// its first: its first write marks it running.
	started bool
	// lostState: a step of a graph run succeeded but the state could not
	// be encoded after it (see stateLost for one step at a time).
	lostState error
	// Waits (see await.go): the run's unconsumed signals, signals taken
	// and not yet journaled as consumed, each step's journaled wait
	// outcomes, and the step the run waited at when it was woken.
	pool    *signalPool
	consume []int64
	waited  [][]journal.Entry
	parked  int
	wake    journal.Wait
	// fan: the steps of a graph saga run at once (see graph.go), which
	// share the driver through its lock.
	fan *fan
	// hold is the engine's hold on the run, and hush stops the renewals
	// of its lease (see heartbeat), before the run's last write releases
	// the lease (see last).
	hold *hold
	hush func()
	// live tells whether the lease still holds (see heartbeat): asked
	// just before each call of a step or a compensation.
	live func() error
}

func (d *Definition[S]) newDriver(jctx context.Context, hush func(), live func() error, h *hold, x *saga.Execution[S], st *S, attempts []int) *driver[S] {
	n := d.sg.Plan().Len()
	if attempts == nil {
		attempts = make([]int, n)
	}
	x.Fence(jctx)
	r := &driver[S]{
		d: d, x: x, st: st, jctx: jctx, hush: hush, live: live, hold: h, runID: x.Report().RunID,
		order: d.sg.Plan().Order(), attempt: attempts, again: make([]bool, n),
		waited: make([][]journal.Entry, n), parked: -1,
	}
	x.CanSuspend()
	r.pool = d.e.signalPool(jctx, r.runID)
	if d.graph {
		r.fan = newFan()
	}
	return r
}

func (r *driver[S]) name(i int) string { return r.d.sg.Plan().Decl(i).Name }

// write journals the pending entries plus more. Steps' snapshots travel
// in their entries; the header's state catches up when its status
// changes, so that a plain step costs the store no header write. Once
// the lease is lost, nothing is written.
func (r *driver[S]) write(u journal.Update, more ...journal.Entry) error {
	entries := append(r.pending, more...)
	r.pending = nil
	if r.started && u.Status == "" {
		u.Status = journal.Running
	}
	if u.Status != "" && r.dirty {
		u.State, r.dirty = r.snap, false
	}
	u.Consume, r.consume = append(u.Consume, r.consume...), nil
	return r.put(u, entries)
}

// last journals the pending entries plus more with u, as the run's last
// write, which releases its lease (Update.Release): this driver writes
// nothing after it, and the engine calls no Release of its own once it
// succeeded. The ends of runs (succeeded, compensated, failed, ...),
// pauses, parks, refused requests and stops at a boundary are last
// writes.
func (r *driver[S]) last(u journal.Update, more ...journal.Entry) error {
	u.Release = true
	return r.write(u, more...)
}

// put writes u and entries: the run's first write creates it. Calls of
// put never overlap: a graph run's steps write through their fan.
//
// Before a write that releases the lease, put stops the heartbeat's
// renewals, which would fail once the lease is released, and ends the
// engine's mark on the run (see hold): from the write's commit on, the
// run is free in the store, and the engine's own Work may claim it.
func (r *driver[S]) put(u journal.Update, entries []journal.Entry) error {
	if err := lost(r.jctx); err != nil {
		return err
	}
	if r.started && u.Status == "" {
		u.Status = journal.Running
	}
	r.started = false
	if u.Release {
		r.hush()
		r.hold.end()
	}
	var err error
	if run := r.create; run != nil {
		r.create = nil
		applyTo(run, u)
		if u.Release {
			run.LeaseOwner, run.LeaseExpiry = "", time.Time{}
		}
		err = r.d.e.store.Create(r.jctx, *run, entries...)
		if errors.Is(err, journal.ErrExists) {
			return existsError{run.ID}
		}
	} else {
		u.Lease = r.hold.token
		err = r.d.e.store.Append(r.jctx, r.runID, r.d.e.owner, u, entries...)
	}
	if err != nil {
		if lerr := lost(r.jctx); lerr != nil {
			return lerr
		}
		return fmt.Errorf("%w: %w", ErrJournal, err)
	}
	if u.Release {
		r.hold.freed.Store(true)
	}
	if u.Status != "" {
		r.d.e.changed(r.runID, false)
	}
	return nil
}

// applyTo folds an update into the header of a run not yet created.
func applyTo(run *journal.Run, u journal.Update) {
	if u.Status != "" {
		run.Status = u.Status
	}
	if u.State != nil {
		run.State = u.State
	}
	if u.Error != nil {
		run.Error = *u.Error
	}
	if u.Ended {
		run.Ended = time.Now()
	}
}

// halt stops the run without ending it: the journal could not be
// written, the lease is lost, or the engine is stopping. The run stays
// unfinished in the journal, for recovery.
func (r *driver[S]) halt(err error) (*saga.Report, error) {
	r.x.Halt(err)
	return r.x.Finish()
}

// boundary is called between steps: it stops the run there, the
// pending entries journaled with status (if not ""), when the engine is
// stopping or the lease is lost. It reports whether the run stopped.
func (r *driver[S]) boundary(status journal.Status) (stopped bool, rep *saga.Report, err error) {
	if err := lost(r.jctx); err != nil {
		rep, err := r.halt(err)
		return true, rep, err
	}
	if r.drain == nil || r.drain.Err() == nil {
		return false, nil, nil
	}
	if len(r.pending) > 0 || status != "" {
		if err := r.last(journal.Update{Status: status}); err != nil {
			rep, err := r.halt(err)
			return true, rep, err
		}
	}
	rep, err = r.halt(ErrStopping)
	return true, rep, err
}

// forward runs the steps from position pos of the plan's order, skipping
// those restored as succeeded, then ends the run: succeeded, or (on a
// failure) paused, compensated or failed.
func (r *driver[S]) forward(pos int) (*saga.Report, error) {
	if r.fan != nil {
		return r.forwardGraph()
	}
	fctx := r.x.Context()
	steps := r.x.Report().Steps
	for ; pos < len(r.order); pos++ {
		i := r.order[pos]
		if steps[i].Status == saga.StepSucceeded {
			continue
		}
		if fctx.Err() != nil {
			break
		}
		if stopped, rep, err := r.boundary(""); stopped {
			return rep, err
		}
		if !r.again[i] {
			r.attempt[i]++
		}
		start := journal.Entry{Kind: journal.StepStarted, Step: r.name(i), Attempt: r.attempt[i], At: time.Now()}
		if err := r.write(journal.Update{}, start); err != nil {
			return r.halt(err)
		}
		if lerr := r.live(); lerr != nil {
			return r.halt(lerr) // the lease ran out before the step was called
		}
		w := r.waits(i)
		err := r.x.Act(withWaits(withKey(fctx, r.runID, r.name(i), r.attempt[i]), w), i)
		if lerr := lost(r.jctx); lerr != nil {
			return r.halt(lerr) // another worker may own the run by now: journal nothing
		}
		park, ended := w.result()
		r.pending = append(r.pending, ended...)
		r.consume = append(r.consume, r.pool.drain()...)
		if park != nil {
			return r.park(i, park)
		}
		if errors.Is(err, saga.ErrSuspended) {
			return r.suspendedAlone(i, err)
		}
		end := journal.Entry{Step: r.name(i), Attempt: r.attempt[i], Attempts: steps[i].Attempts, At: time.Now()}
		if err != nil {
			end.Kind, end.Error = journal.StepFailed, err.Error()
			r.pending = append(r.pending, end)
			if r.unsettled(i) {
				r.x.Restore(i, saga.StepReport{Status: saga.StepSucceeded, Start: steps[i].Start, End: steps[i].End,
					Attempts: steps[i].Attempts, Err: fmt.Errorf("%w (its re-run: %w)", ErrOutcomeUnknown, err)})
			}
			break
		}
		snap, cerr := r.d.codec.Encode(r.st)
		if cerr != nil {
			return r.stateLost(end, cerr)
		}
		end.Kind = journal.StepSucceeded
		r.snapshot(&end, snap)
		r.pending = append(r.pending, end)
	}
	if pos == len(r.order) {
		return r.end(journal.Succeeded)
	}
	if r.d.pause && !r.pastPivot() {
		r.x.Pause()
		return r.pauseRun()
	}
	if r.x.Abort() {
		return r.backward()
	}
	return r.end(journal.Failed)
}

// unsettled reports whether step i runs again as an execution whose
// outcome a crash lost (not one woken from its wait): if the re-run does
// not succeed, the execution may still have taken effect before the
// crash, and the step is compensated with the rest, under its key. (A
// compensation of an effect that never came leaves a tombstone.)
func (r *driver[S]) unsettled(i int) bool {
	return r.again[i] && r.parked != i
}

// snapshot puts snap, the state after a step, in end, the step's
// success, and makes it the run's newest snapshot. A snapshot equal to
// the newest one journaled before it goes as [journal.StateKept]
// instead, without its bytes: a step that leaves the state as it was
// costs the journal no snapshot. (Once a graph run's state was lost,
// every snapshot goes in full.)
func (r *driver[S]) snapshot(end *journal.Entry, snap []byte) {
	if r.lostState == nil && r.snap != nil && bytes.Equal(snap, r.snap) {
		end.Note = journal.StateKept
		return
	}
	end.State = snap
	r.snap, r.dirty = snap, true
}

// stateLost pauses the run after step end.Step succeeded but its state
// could not be encoded: the journal records the success without a
// snapshot, so that no one carries the run on from an older state.
func (r *driver[S]) stateLost(end journal.Entry, cerr error) (*saga.Report, error) {
	end.Kind = journal.StepSucceeded
	r.pending = append(r.pending, end)
	r.x.Halt(fmt.Errorf("%w: step %q: %w", ErrStateLost, end.Step, cerr))
	r.x.Pause()
	return r.pauseRun()
}

// pastPivot reports whether the run's pivot has succeeded.
func (r *driver[S]) pastPivot() bool {
	p := r.d.sg.Plan().Pivot()
	return p >= 0 && r.x.Report().Steps[p].Status == saga.StepSucceeded
}

func (r *driver[S]) pauseRun() (*saga.Report, error) {
	rep, err := r.x.Finish()
	msg := errText(err)
	if werr := r.last(journal.Update{Status: journal.Paused, Error: &msg},
		journal.Entry{Kind: journal.RunPaused, Error: msg, At: time.Now()}); werr != nil {
		return rep, fmt.Errorf("%w (and %w)", err, werr)
	}
	return rep, err
}

// backward compensates, in reverse order, every step that needs it,
// journaling each compensation's start and end, then ends the run.
func (r *driver[S]) backward() (*saga.Report, error) {
	if r.fan != nil {
		return r.backwardGraph()
	}
	status := journal.Compensating
	for k := len(r.order) - 1; k >= 0; k-- {
		i := r.order[k]
		if !r.x.Compensable(i) {
			continue
		}
		if stopped, rep, err := r.boundary(status); stopped {
			return rep, err
		}
		start := journal.Entry{Kind: journal.CompStarted, Step: r.name(i), Attempt: r.attempt[i], At: time.Now()}
		if err := r.write(journal.Update{Status: status}, start); err != nil {
			return r.halt(err)
		}
		status = ""
		if lerr := r.live(); lerr != nil {
			return r.halt(lerr)
		}
		err := r.x.CompensateContext(withKey(r.x.CompensationContext(), r.runID, r.name(i), r.attempt[i]), i)
		if lerr := lost(r.jctx); lerr != nil {
			return r.halt(lerr)
		}
		end := journal.Entry{Kind: journal.CompSucceeded, Step: r.name(i), Attempt: r.attempt[i], At: time.Now()}
		if c := r.x.Report().Steps[i].Compensation; c != nil {
			end.Attempts = c.Attempts
		}
		if err != nil {
			end.Kind, end.Error = journal.CompFailed, err.Error()
		}
		r.pending = append(r.pending, end)
	}
	return r.compensated()
}

// compensated ends a run whose compensations have all run.
func (r *driver[S]) compensated() (*saga.Report, error) {
	rep, err := r.x.Finish()
	final := journal.Compensated
	for _, s := range rep.Steps {
		if s.Status == saga.StepCompensationFailed { // now, or before a resume
			final = journal.CompensationFailed
		}
	}
	return r.finish(final, rep, err)
}

// end finishes the run (succeeded, or failed without compensation) and
// journals its end.
func (r *driver[S]) end(status journal.Status) (*saga.Report, error) {
	rep, err := r.x.Finish()
	return r.finish(status, rep, err)
}

func (r *driver[S]) finish(status journal.Status, rep *saga.Report, err error) (*saga.Report, error) {
	msg := errText(err)
	if r.keep != nil && !failedAnew(err) {
		msg = *r.keep
	}
	u := journal.Update{Status: status, Error: &msg, Ended: true}
	if werr := r.last(u, journal.Entry{Kind: journal.RunEnded, Status: status, Error: msg, At: time.Now()}); werr != nil {
		if err == nil {
			return rep, werr
		}
		return rep, fmt.Errorf("%w (and %w)", err, werr)
	}
	return rep, err
}

// failedAnew reports whether err, an Execution's, says a step failed in
// this pass (not one restored from the journal).
func failedAnew(err error) bool {
	var se *saga.Error
	return errors.As(err, &se) && se.Step != ""
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

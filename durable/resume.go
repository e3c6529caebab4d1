package durable

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// undrivable is the error of a run no worker here can drive: the engine
// sets it aside (status blocked) so that it does not block other runs.
type undrivable struct{ err error }

func (u undrivable) Error() string { return u.err.Error() }
func (u undrivable) Unwrap() error { return u.err }

// drive carries a claimed run on from its journal: after a crash, or to
// carry out an operator request. The engine holds the run's lease since
// c.granted. Steps run on ctx without its cancellation: when ctx ends (or
// c.drain does), the run stops at the next step boundary and is left for
// another worker.
func (d *Definition[S]) drive(ctx context.Context, c claim, run journal.Run, entries []journal.Entry) (*saga.Report, error) {
	if run.Fingerprint != d.fingerprint() {
		return nil, undrivable{fmt.Errorf("%w: run %s was started by a definition with fingerprint %.12s…, the registered one has %.12s…",
			ErrDefinitionChanged, run.ID, run.Fingerprint, d.fingerprint())}
	}
	var st S
	if err := d.codec.Decode(newestState(run, entries), &st); err != nil {
		return nil, undrivable{fmt.Errorf("durable: run %s: state snapshot cannot be decoded: %w", run.ID, err)}
	}
	h := replay(d.sg.Plan(), entries)
	base := d.e.withCarrier(context.WithoutCancel(ctx), run, entries)
	x, err := d.sg.Start(saga.WithRunID(base, run.ID), &st)
	if err != nil {
		return x.Report(), err
	}
	jctx, stop, hush, live := d.e.heartbeat(base, run.ID, c.granted)
	defer stop()
	r := d.newDriver(jctx, hush, live, c.hold, x, &st, h.attempt)
	r.drain = c.drain
	r.snap = newestState(run, entries)
	r.dirty = !bytes.Equal(r.snap, run.State) // the header catches up with the run's next status
	r.waited = h.waited
	if req := run.Request; req.Verb != "" {
		return d.carryOut(r, run, h, req, madeBeforePause(entries))
	}
	switch h.status(run) {
	case journal.Pending: // started, never driven: nothing has run, nothing crashed
		r.started = true
		return r.forward(0)
	case journal.Running:
		return d.recoverForward(r, h)
	case journal.Compensating:
		return r.resumeBackward(h, -1, cause(h))
	case journal.Waiting: // a signal or the deadline woke it
		return r.woken(h, run.Wait)
	}
	err = fmt.Errorf("%w: run %s %s and has no request", ErrBadRequest, run.ID, run.Status.Phrase())
	r.x.Halt(err)
	_, _ = r.x.Finish()
	return nil, err
}

// newestState returns the run's latest state snapshot: the newest entry
// that carries one (the header's catches up only when its status
// changes). A step journaled with [journal.StateKept] left the snapshot
// before it as it was.
func newestState(run journal.Run, entries []journal.Entry) []byte {
	for k := len(entries) - 1; k >= 0; k-- {
		if isSnapshot(entries[k]) {
			return entries[k].State
		}
	}
	return run.State
}

// isSnapshot reports whether e carries a snapshot of the run's state: a
// run's start or a step's success does (a WaitEnded entry's State is an
// event's payload).
func isSnapshot(e journal.Entry) bool {
	return e.State != nil && (e.Kind == journal.RunStarted || e.Kind == journal.StepSucceeded)
}

// restore puts the journaled outcome of every step that ended into x.
func (r *driver[S]) restore(h history) {
	for i, s := range h.steps {
		if s.Status != saga.StepPending && s.Status != saga.StepRunning {
			r.x.Restore(i, s)
		}
	}
}

// next returns the position, in the plan's order, of the first step that
// has not succeeded (len(r.order) if every step has).
func (r *driver[S]) next(h history) int {
	pos := 0
	for pos < len(r.order) && h.steps[r.order[pos]].Status == saga.StepSucceeded {
		pos++
	}
	return pos
}

// unwind restores h for compensating because of why, and reports false
// (the run left as it is) when the run is past its pivot. A step whose
// outcome is unknown (started, never ended, or run again after a crash
// and failed) counts as done, since it may have taken effect; a compensation that started and never ended runs
// again, and so do failed ones (only >= 0: only that step's). Recovery,
// the Compensate verb and a resumed compensation share this rule.
func (r *driver[S]) unwind(h history, only int, why error) bool {
	r.restore(h)
	// Decide before the unknown steps are restored as done: an unknown
	// pivot has not closed the way back.
	if !r.x.Unwind(why) {
		return false
	}
	for i, s := range h.steps {
		switch {
		case h.open[i]:
			r.x.Restore(i, saga.StepReport{Status: saga.StepSucceeded, Start: s.Start, Err: ErrOutcomeUnknown})
		case h.failedRerun[i]:
			r.x.Restore(i, saga.StepReport{Status: saga.StepSucceeded, Start: s.Start, End: s.End, Attempts: s.Attempts,
				Err: fmt.Errorf("%w (its re-run: %w)", ErrOutcomeUnknown, s.Err)})
		case h.compOpen[i] || s.Status == saga.StepCompensationFailed && (only < 0 || only == i):
			s.Status, s.Compensation = saga.StepSucceeded, nil
			r.x.Restore(i, s)
		}
	}
	return true
}

// cause is the journaled error of the run's failed step, or ErrCrashed.
func cause(h history) error {
	for _, s := range h.steps {
		if s.Err != nil {
			return s.Err
		}
	}
	return ErrCrashed
}

// recoverForward carries on a run whose process stopped while running it.
// A step whose outcome is unknown runs again if it is idempotent (or past
// the pivot, where steps are retried until they succeed); otherwise the
// run is compensated, the step included — unless the definition pauses
// on failure, or the step is the pivot and cannot be compensated, in
// which case the run pauses for a person. An unknown outcome is never
// taken for a success. With [PauseOnFailure], the crash policy does not
// apply: a run whose outcomes are known goes on forward. A graph run may
// have several steps of unknown outcome: one that cannot run again
// decides for all of them.
func (d *Definition[S]) recoverForward(r *driver[S], h history) (*saga.Report, error) {
	r.restore(h)
	if r.fan != nil {
		if i := failedStep(h); i >= 0 {
			return r.failedBefore(h, i)
		}
	}
	pos := r.next(h)
	if pos == len(r.order) {
		return r.forward(pos)
	}
	var unknown []int
	stuck := -1 // an unknown step that cannot run again
	for _, i := range r.order {
		if !h.open[i] {
			continue
		}
		unknown = append(unknown, i)
		if stuck < 0 && !d.sg.Idempotent(i) && !r.pastPivot() {
			stuck = i
		}
	}
	// With PauseOnFailure, the crash policy does not apply: recovery goes
	// forward when it can, and pauses when it cannot.
	back := stuck >= 0 || !d.pause && d.onCrash == CompensateAfterCrash && !r.pastPivot()
	if !back {
		return r.rerun(unknown, pos)
	}
	pivot := stuck >= 0 && d.sg.Plan().Decl(stuck).Kind == builder.Pivot
	if d.pause || pivot && (d.onCrash != CompensateAfterCrash || !d.sg.HasCompensation(stuck)) {
		if stuck < 0 {
			stuck = r.order[pos]
		}
		return r.pauseCrashed(stuck, h.open[stuck])
	}
	if !r.unwind(h, -1, ErrCrashed) {
		return r.rerun(unknown, pos)
	}
	return r.backward()
}

// failedStep returns the step journaled as failed (by its own failure,
// not cancelled), or -1.
func failedStep(h history) int {
	for i, s := range h.steps {
		if s.Status == saga.StepFailed && !h.open[i] {
			return i
		}
	}
	return -1
}

// failedBefore carries on a graph run whose step i failed, the failure
// journaled, when the process died before journaling what the failure
// leads to: it pauses (with PauseOnFailure) or compensates, as the
// process would have. The failed step does not run again.
func (r *driver[S]) failedBefore(h history, i int) (*saga.Report, error) {
	why := fmt.Errorf("step %q: %w", r.name(i), h.steps[i].Err)
	if r.d.pause && !r.pastPivot() {
		r.x.Halt(why)
		r.x.Pause()
		return r.pauseRun()
	}
	if !r.unwind(h, -1, h.steps[i].Err) {
		r.x.Halt(why)
		return r.end(journal.Failed) // past the pivot: nothing is undone
	}
	return r.backward()
}

// rerun goes forward from pos, the steps of unknown outcome run again as
// the same executions.
func (r *driver[S]) rerun(unknown []int, pos int) (*saga.Report, error) {
	for _, i := range unknown {
		r.again[i] = true
	}
	return r.forward(pos)
}

// woken carries on a run that waited, once a signal or its deadline
// woke it: the step that waited runs again, as the same execution, and
// the run's first write marks it running.
func (r *driver[S]) woken(h history, wake journal.Wait) (*saga.Report, error) {
	r.restore(h)
	for i, waiting := range h.waiting {
		if waiting {
			r.again[i], r.parked = true, i
		}
	}
	r.wake = wake
	r.started = true
	return r.forward(r.next(h))
}

// pauseCrashed pauses a run recovery will not carry on by itself; step i
// is where it stopped, with an unknown outcome if unknown.
func (r *driver[S]) pauseCrashed(i int, unknown bool) (*saga.Report, error) {
	why := ErrCrashed
	if unknown {
		why = fmt.Errorf("%w: step %q was running when the process driving the run stopped; resume runs it again (same idempotency key), compensate undoes it",
			ErrOutcomeUnknown, r.name(i))
	}
	r.x.Halt(why)
	r.x.Pause()
	return r.pauseRun()
}

// resumeBackward carries on compensating. only >= 0 limits a retry of
// failed compensations to that step.
func (r *driver[S]) resumeBackward(h history, only int, why error) (*saga.Report, error) {
	if !r.unwind(h, only, why) {
		// Compensating, past the pivot: nothing may be undone, and
		// nothing moves the run on by itself. A person decides.
		r.x.Halt(fmt.Errorf("%w: run %s was compensating", ErrPastPivot, r.runID))
		r.x.Pause()
		return r.pauseRun()
	}
	return r.backward()
}

// carryOut performs an operator request on a claimed run. The request is
// checked against the run's status now, when it is carried out: on a run
// that has ended since it was made, it is refused. early tells that it
// was made before the run's last pause.
func (d *Definition[S]) carryOut(r *driver[S], run journal.Run, h history, req journal.Request, early bool) (*saga.Report, error) {
	done := journal.Entry{Kind: journal.RequestCarriedOut, Verb: req.Verb, Step: req.Step, Note: req.Note, At: time.Now()}
	status := h.status(run)
	switch req.Verb {
	case journal.Compensate:
		if h.stateLost != "" {
			return r.refuse(req, fmt.Errorf("%w: step %q; resolve or abandon the run", ErrStateLost, h.stateLost))
		}
		if !r.unwind(h, -1, cause(h)) {
			return r.refuse(req, fmt.Errorf("%w: run %s", ErrPastPivot, run.ID))
		}
		r.keepError(run)
		if err := r.write(journal.Update{Status: journal.Compensating, ClearRequest: true}, done); err != nil {
			return r.halt(err)
		}
		return r.backward()
	case journal.Resume, journal.RetryStep:
		if status == journal.Waiting {
			return r.refuse(req, fmt.Errorf("%w: run %s waits for %s: signal it, or compensate or abandon it", ErrBadRequest, run.ID, waitText(run.Wait.Event)))
		}
		if h.stateLost != "" {
			return r.refuse(req, fmt.Errorf("%w: step %q; resolve or abandon the run", ErrStateLost, h.stateLost))
		}
		if i := d.unknownStuck(h); status == journal.Paused && early && i >= 0 {
			return r.refuse(req, fmt.Errorf("%w: the request was made before run %s paused on the unknown outcome of step %q, which is not idempotent: resuming runs it again; inspect the run and ask again",
				ErrBadRequest, run.ID, r.name(i)))
		}
		only := -1
		if req.Verb == journal.RetryStep {
			i, ok := d.sg.Plan().Index(req.Step)
			if !ok {
				return r.refuse(req, fmt.Errorf("%w: saga %q has no step %q", ErrBadRequest, d.name(), req.Step))
			}
			only = i
		}
		switch status {
		case journal.Running: // its process stopped (or it was set aside running): recover it as such
			if err := r.write(journal.Update{Status: journal.Running, ClearRequest: true}, done); err != nil {
				return r.halt(err)
			}
			return d.recoverForward(r, h)
		case journal.CompensationFailed, journal.Compensating:
			r.keepError(run)
			if err := r.write(journal.Update{Status: journal.Compensating, ClearRequest: true}, done); err != nil {
				return r.halt(err)
			}
			return r.resumeBackward(h, only, cause(h))
		}
		r.restore(h)
		pos := r.next(h)
		if only >= 0 && !r.stoppedAt(h, pos, only) {
			return r.refuse(req, fmt.Errorf("%w: step %q is not where run %s stopped", ErrBadRequest, req.Step, run.ID))
		}
		// An outcome is unknown (the step never ended, or its re-run
		// after a crash failed, and the execution it ran again may have
		// taken effect): the same execution again, under its key.
		for i := range r.again {
			r.again[i] = h.open[i] || h.failedRerun[i]
		}
		if err := r.write(journal.Update{Status: journal.Running, ClearRequest: true}, done); err != nil {
			return r.halt(err)
		}
		return r.forward(pos)
	}
	return r.refuse(req, fmt.Errorf("%w: unknown verb %q", ErrBadRequest, req.Verb))
}

// madeBeforePause reports whether a run's pending request was made before
// the run last paused: its RequestMade entry comes before the newest
// RunPaused entry.
func madeBeforePause(entries []journal.Entry) bool {
	made, paused := -1, -1
	for i, e := range entries {
		switch e.Kind {
		case journal.RequestMade:
			made = i
		case journal.RunPaused:
			paused = i
		}
	}
	return made >= 0 && made < paused
}

// unknownStuck returns a step of unknown outcome that is not idempotent,
// or -1: running it again may repeat its effect.
func (d *Definition[S]) unknownStuck(h history) int {
	for i, open := range h.open {
		if open && !d.sg.Idempotent(i) {
			return i
		}
	}
	return -1
}

// stoppedAt reports whether the run stopped at step i: one at a time, i
// is the first step that has not succeeded (at pos in the plan's order);
// in a graph, i is a step that failed, was cancelled, or has an unknown
// outcome.
func (r *driver[S]) stoppedAt(h history, pos, i int) bool {
	if r.fan == nil {
		return pos < len(r.order) && r.order[pos] == i
	}
	switch h.steps[i].Status {
	case saga.StepFailed, saga.StepCancelled:
		return true
	}
	return h.open[i]
}

// keepError makes the run keep its error (the failure that stopped it)
// when the driver ends it without a new failure.
func (r *driver[S]) keepError(run journal.Run) {
	if run.Error != "" {
		r.keep = &run.Error
	}
}

// refuse records that req was not carried out, and why, and clears it:
// the run is left as it was.
func (r *driver[S]) refuse(req journal.Request, why error) (*saga.Report, error) {
	err := r.last(journal.Update{ClearRequest: true}, refusal(req, why))
	r.x.Halt(why)
	_, _ = r.x.Finish()
	if err != nil {
		return nil, fmt.Errorf("%w (and %w)", why, err)
	}
	return nil, why
}

// refusal is the entry of a request refused because of why.
func refusal(req journal.Request, why error) journal.Entry {
	return journal.Entry{Kind: journal.RequestCarriedOut, Verb: req.Verb, Step: req.Step,
		Note: "refused: " + why.Error(), At: time.Now()}
}

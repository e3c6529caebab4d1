package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// drive carries a claimed run on from its journal: after a crash, or to
// carry out an operator request. The engine holds the run's lease.
func (d *Definition[S]) drive(ctx context.Context, run journal.Run, entries []journal.Entry) (*saga.Report, error) {
	if run.Fingerprint != d.fingerprint() {
		return nil, fmt.Errorf("%w: run %s was started by a definition with fingerprint %.12s…, the registered one has %.12s…",
			ErrDefinitionChanged, run.ID, run.Fingerprint, d.fingerprint())
	}
	var st S
	if err := d.codec.Decode(newestState(run, entries), &st); err != nil {
		return nil, fmt.Errorf("durable: run %s: state snapshot: %w", run.ID, err)
	}
	h := replay(d.sg.Plan(), entries)
	x, err := d.sg.Start(saga.WithRunID(ctx, run.ID), &st)
	if err != nil {
		return x.Report(), err
	}
	jctx, stop := d.e.heartbeat(context.WithoutCancel(ctx), run.ID)
	defer stop()
	r := d.newDriver(jctx, x, &st, h.attempt)
	req := run.Request
	if req.Verb != "" {
		return d.carryOut(r, run, h, req)
	}
	switch run.Status {
	case journal.Running:
		return d.recoverForward(r, h)
	case journal.Compensating:
		return r.resumeBackward(h, -1, cause(h))
	}
	return nil, fmt.Errorf("%w: run %s is %s and has no request", ErrBadRequest, run.ID, run.Status)
}

// newestState returns the run's latest state snapshot: the newest entry
// that carries one (the header's catches up only when its status changes).
func newestState(run journal.Run, entries []journal.Entry) []byte {
	for k := len(entries) - 1; k >= 0; k-- {
		if entries[k].State != nil {
			return entries[k].State
		}
	}
	return run.State
}

// restore puts the journaled outcome of every step that ran into x.
func (r *driver[S]) restore(h history) {
	for i, s := range h.steps {
		if s.Status != saga.StepPending && s.Status != saga.StepRunning {
			r.x.Restore(i, s)
		}
	}
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

// recoverForward carries on a run whose process died while running it.
func (d *Definition[S]) recoverForward(r *driver[S], h history) (*saga.Report, error) {
	r.restore(h)
	pos := 0
	for pos < len(r.order) && h.steps[r.order[pos]].Status == saga.StepSucceeded {
		pos++
	}
	if pos == len(r.order) {
		return r.forward(pos)
	}
	i := r.order[pos]
	unknown := h.open[i]
	again := unknown && (d.sg.Idempotent(i) || r.pastPivot())
	compensate := (d.onCrash == CompensateAfterCrash && !r.pastPivot()) || (unknown && !again)
	if compensate {
		if unknown {
			// The step may have taken effect: compensate it as done.
			r.x.Restore(i, saga.StepReport{Status: saga.StepSucceeded, Start: h.steps[i].Start, Err: ErrCrashed})
		}
		if r.x.Unwind(ErrCrashed) {
			return r.backward()
		}
	}
	r.again[i] = again
	return r.forward(pos)
}

// resumeBackward carries on compensating. only >= 0 limits a retry of
// failed compensations to that step.
func (r *driver[S]) resumeBackward(h history, only int, why error) (*saga.Report, error) {
	r.restore(h)
	for i, s := range h.steps {
		redo := h.compOpen[i] || s.Status == saga.StepCompensationFailed && (only < 0 || only == i)
		if redo {
			s.Status, s.Compensation = saga.StepSucceeded, nil
			r.x.Restore(i, s)
		}
	}
	if !r.x.Unwind(why) {
		return r.x.Finish()
	}
	return r.backward()
}

// carryOut performs an operator request on a claimed run.
func (d *Definition[S]) carryOut(r *driver[S], run journal.Run, h history, req journal.Request) (*saga.Report, error) {
	done := journal.Entry{Kind: journal.RequestCarriedOut, Verb: req.Verb, Step: req.Step, Note: req.Note, At: time.Now()}
	switch req.Verb {
	case journal.Resolve, journal.Abandon:
		status := journal.Resolved
		if req.Verb == journal.Abandon {
			status = journal.Abandoned
		}
		err := r.write(journal.Update{Status: status, Ended: true, ClearRequest: true}, done)
		r.restore(h)
		r.x.Halt(fmt.Errorf("durable: run %s by an operator: %s", status, req.Note))
		rep, _ := r.x.Finish()
		return rep, err
	case journal.Compensate:
		r.restore(h)
		if !r.x.Unwind(errors.New("durable: compensation requested by an operator")) {
			_ = r.write(journal.Update{ClearRequest: true}, journal.Entry{Kind: journal.RequestCarriedOut, Note: "refused: past the pivot", At: done.At})
			return nil, fmt.Errorf("%w: run %s", ErrPastPivot, run.ID)
		}
		if err := r.write(journal.Update{Status: journal.Compensating, ClearRequest: true}, done); err != nil {
			return r.halt(err)
		}
		return r.backward()
	case journal.Resume, journal.RetryStep:
		only := -1
		if req.Verb == journal.RetryStep {
			i, ok := d.sg.Plan().Index(req.Step)
			if !ok {
				_ = r.write(journal.Update{ClearRequest: true}, journal.Entry{Kind: journal.RequestCarriedOut, Note: "refused: no step " + req.Step, At: done.At})
				return nil, fmt.Errorf("%w: saga %q has no step %q", ErrBadRequest, d.name(), req.Step)
			}
			only = i
		}
		if run.Status == journal.Running { // its process died: recover it as such
			if err := r.write(journal.Update{ClearRequest: true}, done); err != nil {
				return r.halt(err)
			}
			return d.recoverForward(r, h)
		}
		if run.Status == journal.CompensationFailed || run.Status == journal.Compensating {
			if err := r.write(journal.Update{Status: journal.Compensating, ClearRequest: true}, done); err != nil {
				return r.halt(err)
			}
			return r.resumeBackward(h, only, cause(h))
		}
		r.restore(h)
		pos := 0
		for pos < len(r.order) && h.steps[r.order[pos]].Status == saga.StepSucceeded {
			pos++
		}
		if only >= 0 && (pos == len(r.order) || r.order[pos] != only) {
			_ = r.write(journal.Update{ClearRequest: true}, journal.Entry{Kind: journal.RequestCarriedOut, Note: "refused: " + req.Step + " is not the step to retry", At: done.At})
			return nil, fmt.Errorf("%w: step %q is not where run %s stopped", ErrBadRequest, req.Step, run.ID)
		}
		if err := r.write(journal.Update{Status: journal.Running, ClearRequest: true}, done); err != nil {
			return r.halt(err)
		}
		return r.forward(pos)
	}
	return nil, fmt.Errorf("%w: unknown verb %q", ErrBadRequest, req.Verb)
}

package saga

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/internal/runid"
)

// Run executes the saga over state: the steps one at a time, in plan order
// (declaration order unless [After] says otherwise). It returns a report,
// never nil, and an error, nil when every step succeeded.
//
// When a step fails, Run compensates every completed step in reverse order
// of completion (the failed one too if it opted in with
// [CompensateIfFailed]; steps without a compensation are skipped), on a
// context detached from ctx's cancellation, and returns an [*Error] that
// unwraps to the step's error and to every compensation failure. When ctx
// ends (or the saga's deadline passes), no new step starts, the running
// step sees its context end, and the completed steps are compensated. A
// panic in an action or compensation is recovered and treated as its
// failure ([*PanicError]).
//
// The context given to steps carries the run's ID (see [RunID]); give Run
// a context made by [WithRunID] to choose that ID.
func (sg *Saga[S]) Run(ctx context.Context, state *S) (*Report, error) {
	r := sg.newRun(ctx, state)
	if state == nil {
		return r.finish(ctx, r.now(), &Error{Saga: sg.name, RunID: r.rep.RunID, Err: ErrNilState, Status: StatusFailed})
	}
	fctx, cancel := sg.forward(ctx, r.rep.Start)
	r.ctx.Context = fctx
	rctx := context.Context(&r.ctx)
	if sg.observed {
		r.started(rctx)
	}
	order := sg.plan.Order()
	last := r.rep.Start
	pos, pivoted := 0, false
	var cause error
	for ; pos < len(order); pos++ {
		if fctx.Err() != nil {
			cause = stopCause(fctx)
			break
		}
		i := order[pos]
		var err error
		if last, err = r.act(rctx, i, last); err != nil {
			cause = err
			break
		}
		if sg.steps[i].kind == builder.Pivot {
			pivoted = true
		}
	}
	ctxEnded := fctx.Err() != nil
	if cancel != nil {
		cancel()
	}
	if cause == nil {
		return r.finish(rctx, last, nil) // the run ended with its last step
	}
	failed := -1
	if pos < len(order) && r.rep.Steps[order[pos]].Status == StepFailed {
		failed = order[pos]
	}
	return r.fail(ctx, order[:pos], failed, cause, pivoted, ctxEnded)
}

// run is one execution of a saga: its report and the context its steps
// get, in a single allocation.
type run[S any] struct {
	sg    *Saga[S]
	state *S
	rep   Report
	ctx   runContext
	id    [runid.Len]byte // the bytes of a generated RunID
}

func (sg *Saga[S]) newRun(ctx context.Context, state *S) *run[S] {
	now := time.Now()
	r := &run[S]{sg: sg, state: state}
	id, _ := ctx.Value(runIDKey{}).(string)
	if id == "" {
		id = runid.Format(&r.id, now)
	}
	r.rep = Report{Saga: sg.name, RunID: id, Status: StatusRunning, Start: now, Steps: make([]StepReport, len(sg.steps))}
	for i := range r.rep.Steps {
		r.rep.Steps[i].Name = sg.steps[i].name
		r.rep.Steps[i].Status = StepPending
	}
	r.ctx = runContext{Context: ctx, id: &r.rep.RunID}
	return r
}

// now reads the time as the run's start plus the monotonic time elapsed
// since: half the cost of time.Now, and immune to wall-clock jumps.
func (r *run[S]) now() time.Time {
	return r.rep.Start.Add(time.Since(r.rep.Start))
}

// forward returns the context of the forward steps: ctx bounded by the
// saga's timeout, less its compensation reserve.
func (sg *Saga[S]) forward(ctx context.Context, start time.Time) (context.Context, context.CancelFunc) {
	var deadline time.Time
	if sg.timeout > 0 {
		deadline = start.Add(sg.timeout)
	}
	if sg.reserve > 0 {
		if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
			deadline = d
		}
	}
	if deadline.IsZero() {
		return ctx, nil
	}
	return context.WithDeadlineCause(ctx, deadline.Add(-sg.reserve), ErrDeadline)
}

// stopCause is the error of a saga stopped between steps because ctx
// ended: the cause, still matching ctx.Err() with errors.Is.
func stopCause(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause == nil || errors.Is(cause, err) {
		return err
	}
	return fmt.Errorf("%w (%w)", cause, err)
}

// fail ends a run whose step failed (failed >= 0) or that stopped because
// its context ended: it compensates the completed steps, unless the
// pivot has passed or the error filter says no.
func (r *run[S]) fail(ctx context.Context, done []int, failed int, cause error, pivoted, ctxEnded bool) (*Report, error) {
	e := &Error{Saga: r.sg.name, RunID: r.rep.RunID, Err: cause, Status: StatusFailed}
	if failed >= 0 {
		e.Step = r.sg.steps[failed].name
	}
	if pivoted || (!ctxEnded && r.sg.compensateOn != nil && !r.sg.compensateOn(cause)) {
		r.ctx.Context = ctx
		return r.finish(&r.ctx, r.now(), e)
	}
	cctx := &runContext{Context: context.WithoutCancel(ctx), id: &r.rep.RunID}
	e.Compensation = r.unwind(cctx, done, failed, cause)
	e.Status = StatusCompensated
	if len(e.Compensation) > 0 {
		e.Status = StatusCompensationFailed
	}
	return r.finish(cctx, r.now(), e)
}

// unwind compensates the failed step (if it opted in) and then the done
// steps in reverse. One failure does not stop the others.
func (r *run[S]) unwind(ctx context.Context, done []int, failed int, cause error) []error {
	if r.sg.observed {
		r.compensationStarted(ctx, cause)
	}
	var errs []error
	if failed >= 0 && r.sg.steps[failed].compensateFailed {
		if err := r.undo(ctx, failed); err != nil {
			errs = append(errs, err)
		}
	}
	for k := len(done) - 1; k >= 0; k-- {
		if err := r.undo(ctx, done[k]); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// finish records the end of the run and returns its report and error.
func (r *run[S]) finish(ctx context.Context, end time.Time, e *Error) (*Report, error) {
	r.rep.End = end
	var err error
	if e != nil {
		r.rep.Status, r.rep.Err, err = e.Status, e, e
	} else {
		r.rep.Status = StatusSucceeded
	}
	if r.sg.observed {
		r.completed(ctx)
	}
	return &r.rep, err
}

package saga

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/internal/runid"
)

// Execution is one run of a [Saga] driven by a runner that chooses the
// order of its steps. [Saga.Run] is such a runner (one step at a time, in
// plan order); package parallel is another (independent steps at once).
// The Execution applies the saga's rules to every step (timeouts, retries,
// panics, hooks, logging, the error filter, the pivot, the report), so
// that every runner behaves the same.
//
// A runner calls [Saga.Start], then [Execution.Act] for each step it runs;
// when a step fails or the run's context ends, it calls [Execution.Abort]
// and, if that says so, [Execution.Compensate] for each step in reverse
// dependency order; last, [Execution.Finish]. Act and Compensate may be
// called concurrently for distinct steps; the other methods must not be
// called concurrently with anything.
type Execution[S any] struct {
	sg      *Saga[S]
	state   *S
	rep     Report
	fwd     runContext // the forward context, carrying the run's ID
	comp    runContext // the compensation context, set up by Abort
	cancel  context.CancelFunc
	fence   context.Context // set by Fence: ends steps and compensations alike
	id      [runid.Len]byte // the bytes of a generated RunID
	pivoted atomic.Bool
	// suspends: the runner can suspend steps (see ErrSuspended).
	suspends bool
	unwound  bool  // Abort decided to compensate
	paused   bool  // Pause was called
	stop     error // why forward work stopped when no step failed
	halt     error // Halt's error

	mu       sync.Mutex // guards what follows: steps write it concurrently
	first    int        // index of the first failed step, -1 if none
	others   []error    // later failures (*StepError)
	compErrs []error    // *CompensationError, in the order they happened
}

// Start begins a run of the saga over state, for a runner of its own (see
// [Execution]). The run's ID comes from ctx (see [WithRunID]) or is
// generated. When state is nil, Start returns [ErrNilState] and an
// Execution that has already finished: return its Report.
func (sg *Saga[S]) Start(ctx context.Context, state *S) (*Execution[S], error) {
	sg.mustBeBuilt()
	x := sg.newExecution()
	x.sg, x.state, x.first = sg, state, -1
	now := time.Now()
	id := ChosenRunID(ctx)
	if id == "" {
		id = runid.Format(&x.id, now)
	}
	x.rep.Saga, x.rep.RunID, x.rep.Status, x.rep.Start = sg.name, id, StatusRunning, now
	if state == nil {
		x.fwd = runContext{Context: ctx, id: &x.rep.RunID}
		x.stop = ErrNilState
		_, err := x.finish(x.now())
		return x, err
	}
	if sg.observed {
		ctx = x.runContext(ctx)
	}
	fctx, cancel := sg.forward(ctx, now)
	x.fwd = runContext{Context: fctx, id: &x.rep.RunID}
	x.cancel = cancel
	if sg.observed {
		x.started(&x.fwd)
	}
	return x, nil
}

// Context returns the context of the run's forward steps: the caller's,
// bounded by the saga's deadline, carrying the run's ID. Runners derive
// the contexts they give [Execution.Act] from it.
func (x *Execution[S]) Context() context.Context { return &x.fwd }

// Report returns the run's report. It is complete once Finish returned.
func (x *Execution[S]) Report() *Report { return &x.rep }

// Act runs step i's action (i indexes the plan's declaration order), with
// its timeout, retries and hooks, records the outcome in the report and
// returns the step's error.
func (x *Execution[S]) Act(ctx context.Context, i int) error {
	_, err := x.act(ctx, i, x.now(), x.state)
	return err
}

// ActOn is [Execution.Act] with the action given state instead of the
// run's: a copy that the runner merges back into the run's state when
// the step ends. A durable runner gives each step that runs at the same
// time as others a copy of its own, so that it can snapshot the run's
// state while they run (see package state's Fork).
func (x *Execution[S]) ActOn(ctx context.Context, i int, state *S) error {
	_, err := x.act(ctx, i, x.now(), state)
	return err
}

// Abort ends forward work after a step failed or the run's context ended,
// and reports whether the runner must now compensate. It must not: when
// the pivot has succeeded, or when the saga's error filter rejects the
// failure (unless the run's context ended). When it must, Abort calls the
// OnCompensationStart hook.
func (x *Execution[S]) Abort() (compensate bool) {
	cause := x.cause()
	if cause == nil {
		if x.stop == nil {
			x.stop = stopCause(x.fwd.Context)
		}
		if x.stop == nil {
			x.stop = errors.New("saga: aborted without a failure")
		}
		cause = x.stop
	}
	ctxEnded := x.fwd.Context.Err() != nil
	if !ctxEnded && x.sg.compensateOn != nil && !x.sg.compensateOn(cause) {
		return false
	}
	return x.Unwind(cause)
}

// Unwind decides to compensate because of cause, whatever the error
// filter says: a durable runner compensates a run an operator asked to
// compensate, or one that crashed mid-step. It reports false, leaving the
// run as it is, when the pivot has succeeded. Otherwise it calls the
// OnCompensationStart hook and the runner must now call Compensate.
func (x *Execution[S]) Unwind(cause error) bool {
	if x.pivoted.Load() {
		return false
	}
	if x.cause() == nil && x.stop == nil {
		x.stop = cause
	}
	x.unwound = true
	comp := context.WithoutCancel(x.fwd.Context)
	if x.fence != nil {
		comp = x.bound(comp)
	}
	x.comp = runContext{Context: comp, id: &x.rep.RunID}
	if x.sg.observed {
		x.compensationStarted(&x.comp, cause)
	}
	return true
}

// Fence makes the end of ctx end the run's steps and compensations alike,
// with ctx's cause, although compensations are otherwise detached from
// the caller's cancellation. Each attempt of a step or a compensation
// first asks ctx.Err(): once ctx has ended, no attempt starts, and the
// step or compensation fails with ctx's cause. The Err of the contexts
// steps and compensations get asks ctx.Err() too. A durable runner fences
// a run with its lease, in a context whose Err checks the lease by the
// process's own clock: a runner that can no longer prove it holds the
// run stops every step and compensation it runs, starts no attempt, and
// a step that checks its context before it acts sees the lease lost.
// Call Fence after Start, before any Act.
func (x *Execution[S]) Fence(ctx context.Context) {
	x.fence = ctx
	x.fwd.Context = x.bound(x.fwd.Context)
}

// bound returns a context that ends with parent or with the fence,
// whichever ends first, and arranges for Finish to release it.
func (x *Execution[S]) bound(parent context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(parent)
	fence := x.fence
	stop := context.AfterFunc(fence, func() { cancel(context.Cause(fence)) })
	prev := x.cancel
	x.cancel = func() {
		stop()
		cancel(nil)
		if prev != nil {
			prev()
		}
	}
	return fencedContext{ctx, fence, cancel}
}

// fencedContext is a context bound to a fence whose Err asks the fence
// first: a step that checks ctx.Err() before it acts learns that the
// fence ended even before the fence's AfterFunc has run, as when a
// lease checked by the clock lapsed while the process was stopped.
// Contexts derived with values (context.WithValue) ask it too.
type fencedContext struct {
	context.Context
	fence  context.Context
	cancel context.CancelCauseFunc
}

// Err implements [context.Context]: it ends the context with the fence's
// cause once the fence has ended, then reports as the context does.
func (c fencedContext) Err() error {
	if c.fence.Err() != nil {
		c.cancel(context.Cause(c.fence))
	}
	return c.Context.Err()
}

// CanSuspend says that the runner can suspend steps: an action that
// returns [ErrSuspended] leaves its step running, not failed, for the
// runner to run it again later. Call it after Start, before any Act.
func (x *Execution[S]) CanSuspend() { x.suspends = true }

// Pause ends forward work after a failure without compensating: Finish
// then reports [StatusPaused]. A durable runner pauses a run so that a
// person can fix the cause and resume it from the failed step.
func (x *Execution[S]) Pause() {
	x.paused = true
	if x.cause() == nil && x.stop == nil {
		x.stop = stopCause(x.fwd.Context)
	}
}

// Halt stops the run because of err, a failure of the runner's own rather
// than of a step (a journal it cannot write, a state it cannot encode),
// forward or in the middle of compensating: Finish then reports
// [StatusFailed] ([StatusPaused] if Pause was called too), and its error
// unwraps to err as well as to any step's failure.
func (x *Execution[S]) Halt(err error) {
	if x.halt == nil {
		x.halt = err
	}
}

// Restore sets step i's report before the run goes on, for a runner that
// resumes a run from a journal: a step restored as [StepSucceeded] counts
// as completed (it is not run again, and it is compensated if the run
// unwinds); a restored pivot that succeeded closes the way back. Call it
// before any Act.
func (x *Execution[S]) Restore(i int, r StepReport) {
	r.Name = x.sg.steps[i].name
	x.rep.Steps[i] = r
	if r.Status == StepSucceeded && x.sg.steps[i].kind == builder.Pivot {
		x.pivoted.Store(true)
	}
}

// Compensable reports whether [Execution.Compensate] would run step i's
// compensation now: the step has one, and it succeeded, or failed and
// opted in with [CompensateIfFailed].
func (x *Execution[S]) Compensable(i int) bool {
	st := &x.sg.steps[i]
	if st.compensate == nil {
		return false
	}
	switch x.rep.Steps[i].Status {
	case StepSucceeded:
		return true
	case StepFailed, StepCancelled:
		return st.compensateFailed
	}
	return false
}

// cause returns the first failed step's error, or nil.
func (x *Execution[S]) cause() error {
	if x.first < 0 {
		return nil
	}
	return x.rep.Steps[x.first].Err
}

// Compensate runs step i's compensation if the step needs one: it
// succeeded, or it failed and opted in with [CompensateIfFailed]. Steps
// that did not run, and steps without a compensation, are left as they
// are. Compensations run on a context detached from the caller's
// cancellation, under their own timeout and retry policy. Call it only
// after Abort returned true.
func (x *Execution[S]) Compensate(i int) error {
	return x.CompensateContext(&x.comp, i)
}

// CompensationContext returns the context compensations run on: detached
// from the caller's cancellation, carrying the run's ID. It is set up by
// Abort or Unwind.
func (x *Execution[S]) CompensationContext() context.Context { return &x.comp }

// CompensateContext is [Execution.Compensate] on ctx, which must derive
// from [Execution.CompensationContext]: a runner adds values to it (a
// durable runner, the idempotency key of the execution being undone).
func (x *Execution[S]) CompensateContext(ctx context.Context, i int) error {
	switch x.rep.Steps[i].Status {
	case StepSucceeded:
	case StepFailed, StepCancelled:
		if !x.sg.steps[i].compensateFailed {
			return nil
		}
	default:
		return nil
	}
	err := x.undo(ctx, i)
	if err != nil {
		x.mu.Lock()
		x.compErrs = append(x.compErrs, err)
		x.mu.Unlock()
	}
	return err
}

// Finish ends the run and returns its report and error: nil when every
// step succeeded, otherwise an [*Error].
func (x *Execution[S]) Finish() (*Report, error) {
	return x.finish(x.now())
}

func (x *Execution[S]) finish(end time.Time) (*Report, error) {
	if x.cancel != nil {
		x.cancel()
	}
	x.rep.End = end
	ctx := context.Context(&x.fwd)
	if x.unwound {
		ctx = &x.comp
	}
	var err error
	if x.first < 0 && x.stop == nil && x.halt == nil {
		x.rep.Status = StatusSucceeded
	} else {
		e := &Error{Saga: x.sg.name, RunID: x.rep.RunID, Err: x.stop, Status: StatusFailed, Others: x.others, Compensation: x.compErrs}
		if x.first >= 0 {
			e.Step, e.Err = x.sg.steps[x.first].name, x.rep.Steps[x.first].Err
		}
		if x.halt != nil {
			if e.Err == nil {
				e.Err = x.halt
			} else {
				e.Others = append(e.Others, x.halt)
			}
		}
		switch {
		case x.paused:
			e.Status = StatusPaused
		case x.halt != nil:
		case !x.unwound:
		case len(x.compErrs) > 0:
			e.Status = StatusCompensationFailed
		default:
			e.Status = StatusCompensated
		}
		x.rep.Status, x.rep.Err, err = e.Status, e, e
	}
	if x.sg.observed {
		x.completed(ctx)
	}
	return &x.rep, err
}

// failed records that step i failed with err on ctx, and returns the
// step's status: [StepCancelled] when another step failed first and err
// is the end of ctx (the runner cancelled the step because of that
// failure), [StepFailed] otherwise.
func (x *Execution[S]) failed(ctx context.Context, i int, err error) StepStatus {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.first < 0:
		x.first = i
	case cancelled(ctx, err):
		return StepCancelled
	default:
		x.others = append(x.others, &StepError{Step: x.sg.steps[i].name, Err: err})
	}
	return StepFailed
}

// cancelled reports whether err is the end of ctx: ctx is done and err
// is its error or its cause.
func cancelled(ctx context.Context, err error) bool {
	if ctx.Err() == nil {
		return false
	}
	return errors.Is(err, ctx.Err()) || errors.Is(err, context.Cause(ctx))
}

// now reads the time as the run's start plus the monotonic time elapsed
// since: half the cost of time.Now, and immune to wall-clock jumps.
func (x *Execution[S]) now() time.Time {
	return x.rep.Start.Add(time.Since(x.rep.Start))
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

// stopCause is the error of a run stopped because ctx ended: the cause,
// still matching ctx.Err() with errors.Is.
func stopCause(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause == nil || errors.Is(cause, err) {
		return cause
	}
	return fmt.Errorf("%w (%w)", cause, err)
}

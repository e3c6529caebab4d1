package saga

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/retry"
)

// act runs step i's action (its attempts, timeout, retries) and records
// the outcome in the report. start is when the step begins; act returns
// when it ended. The rarer paths live in functions of their own to keep
// act's stack frame small: package parallel calls it on fresh goroutines.
func (x *Execution[S]) act(ctx context.Context, i int, start time.Time, state *S) (time.Time, error) {
	st, sr := &x.sg.steps[i], &x.rep.Steps[i]
	observed := x.sg.observed
	if observed {
		start = x.now()
		ctx = x.stepContext(ctx, i)
	}
	sr.Start, sr.Status = start, StepRunning
	if sr.Err != nil { // a step run again: cleared, sparing a write barrier otherwise
		sr.Err = nil
	}
	var err error
	if st.retry != nil {
		sr.Attempts = 0
		err = x.retried(ctx, i, state)
	} else {
		sr.Attempts = 1
		if observed {
			x.stepStarted(ctx, i, 1)
		}
		switch {
		case x.fence != nil && x.fenced() != nil:
			err = x.fenced()
		case st.timeout > 0:
			err = attempt(ctx, st.action, state, st.timeout)
		default:
			err = call(ctx, st.action, state)
		}
	}
	end := x.now()
	if err != nil && x.suspends && errors.Is(err, ErrSuspended) {
		if observed {
			x.stepSuspended(ctx, i, sr.Attempts, err)
		}
		return end, err // the step has not ended: still running
	}
	sr.End = end
	if err != nil {
		x.actFailed(ctx, i, err)
		return end, err
	}
	sr.Status = StepSucceeded
	if st.kind == builder.Pivot {
		x.pivoted.Store(true)
	}
	if observed {
		x.stepSucceeded(ctx, i, sr.Attempts, end.Sub(start))
	}
	return end, nil
}

// retried runs step i's action under its retry policy.
func (x *Execution[S]) retried(ctx context.Context, i int, state *S) error {
	st, sr := &x.sg.steps[i], &x.rep.Steps[i]
	outer := ctx
	return plain(retry.Do(ctx, x.policy(*st.retry, i, false), func(ctx context.Context) error {
		if err := x.fenced(); err != nil {
			return retry.Permanent(err)
		}
		sr.Attempts++
		if x.sg.observed {
			x.stepStarted(ctx, i, sr.Attempts)
		}
		err := call(ctx, st.action, state)
		if x.suspends && errors.Is(err, ErrSuspended) {
			return retry.Permanent(err) // not a failure to retry: the step waits
		}
		return labelTimeout(outer, ctx, st.retry.AttemptTimeout, err)
	}))
}

// actFailed records the failure of step i's action: its own, or the
// cancellation of a step that was running when another one failed.
func (x *Execution[S]) actFailed(ctx context.Context, i int, err error) {
	sr := &x.rep.Steps[i]
	sr.Err = err
	sr.Status = x.failed(ctx, i, err)
	if x.sg.observed {
		x.stepFailed(ctx, i, sr.Attempts, err)
	}
}

// undo runs step i's compensation under its retry policy and records the
// outcome. A step without compensation is marked not compensated.
func (x *Execution[S]) undo(ctx context.Context, i int) error {
	st, sr := &x.sg.steps[i], &x.rep.Steps[i]
	if st.compensate == nil {
		if sr.Status == StepSucceeded {
			sr.Status = StepNotCompensated
		}
		return nil
	}
	c := &CompensationReport{Start: x.now()}
	sr.Compensation = c
	if x.sg.observed {
		ctx = x.compensationContext(ctx, i)
	}
	outer := ctx
	err := plain(retry.Do(ctx, x.policy(st.compRetry, i, true), func(ctx context.Context) error {
		if err := x.fenced(); err != nil {
			return retry.Permanent(err)
		}
		c.Attempts++
		return labelTimeout(outer, ctx, st.compRetry.AttemptTimeout, call(ctx, st.compensate, x.state))
	}))
	c.End = x.now()
	if err != nil {
		sr.Status, c.Err = StepCompensationFailed, err
		if x.sg.observed {
			x.compensationFailed(ctx, i, c.Attempts, err)
		}
		return &CompensationError{Step: st.name, Err: err}
	}
	sr.Status = StepCompensated
	if x.sg.observed {
		x.stepCompensated(ctx, i, c.Attempts)
	}
	return nil
}

// fenced returns the fence's cause once it has ended (see Fence), nil
// otherwise. It asks the fence itself, not a context derived from it,
// which learns of the end only after the fence's AfterFunc has run.
func (x *Execution[S]) fenced() error {
	if x.fence == nil || x.fence.Err() == nil {
		return nil
	}
	return context.Cause(x.fence)
}

// attempt makes one call of fn bounded by timeout.
func attempt[S any](ctx context.Context, fn func(context.Context, *S) error, state *S, timeout time.Duration) error {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return labelTimeout(ctx, actx, timeout, call(actx, fn, state))
}

// labelTimeout says so when err came from an attempt whose own timeout
// (inner's deadline, not outer's) ran out.
func labelTimeout(outer, inner context.Context, timeout time.Duration, err error) error {
	if err != nil && timeout > 0 && outer.Err() == nil && errors.Is(inner.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	return err
}

// plain returns the last error of a retry that made only one attempt: a
// "gave up after 1 attempt" wrapper tells nothing the report does not.
func plain(err error) error {
	var re *retry.Error
	if errors.As(err, &re) && re.Attempts <= 1 && re.Last != nil {
		return re.Last
	}
	return err
}

// call calls fn, turning a panic into a [*PanicError]. It asks recover
// only when fn did not return.
func call[S any](ctx context.Context, fn func(context.Context, *S) error, state *S) (err error) {
	returned := false
	defer func() {
		if returned {
			return
		}
		if v := recover(); v != nil {
			err = newPanicError(v)
		}
	}()
	err = fn(ctx, state)
	returned = true
	return err
}

// policy returns p with the run's retry hooks added when the saga is
// observed (hooks or logger set), chained before p's own hooks.
func (x *Execution[S]) policy(p retry.Policy, i int, compensation bool) retry.Policy {
	if !x.sg.observed {
		return p
	}
	own := p.Hooks
	h := &retry.Hooks{OnRetryScheduled: func(ctx context.Context, attempt int, err error, delay time.Duration) {
		x.retrying(ctx, i, attempt, err, delay, compensation)
		if own != nil && own.OnRetryScheduled != nil {
			own.OnRetryScheduled(ctx, attempt, err, delay)
		}
	}}
	if own != nil {
		h.OnAttemptFailed, h.OnGaveUp = own.OnAttemptFailed, own.OnGaveUp
	}
	p.Hooks = h
	return p
}

package sagatest

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/saga"
)

// Call is one call of an action or a compensation wrapped by a
// [Recorder], once it has returned.
type Call struct {
	// Step is the step's name.
	Step string
	// Compensation tells a call of the step's compensation from one of
	// its action.
	Compensation bool
	// RunID is the run the call belongs to ([saga.RunID] of its context).
	RunID string
	// Key is the idempotency key of the execution the call belongs to
	// ([durable.IdempotencyKey]: for a compensation, the key of the
	// execution it undoes); "" outside a durable run.
	Key string
	// Err is what the call returned: nil when it took effect. A call that
	// panicked has a *[saga.PanicError].
	Err error
	// Injected tells that the call was a fault's (see [Recorder.FailAt]):
	// the function the Recorder wraps was not called.
	Injected bool

	start, end uint64 // when the call started and returned, on the Recorder's counter
}

// String describes the call: "charge", "undo reserve", or with its error,
// "charge: card declined".
func (c Call) String() string {
	s := c.Step
	if c.Compensation {
		s = "undo " + s
	}
	if c.Err != nil {
		s += ": " + c.Err.Error()
	}
	return s
}

// execution names the execution a call belongs to: its idempotency key in
// a durable run, the run and the step otherwise (a run that is not
// journaled executes each step once).
func (c *Call) execution() string {
	if c.Key != "" {
		return c.Key
	}
	return c.RunID + "/" + c.Step
}

// tookEffect reports whether the wrapped function was called and
// returned nil.
func (c *Call) tookEffect() bool { return c.Err == nil && !c.Injected }

// Recorder wraps a saga's actions and compensations (see [Recorder.Action]
// and [Recorder.Compensation]) to record every call and to inject faults
// where a test asks for them: an action that fails, panics, hangs until
// its context ends, or is slow; a compensation that fails. Then
// [Recorder.AssertCompensated] checks that a failed run undid what it did,
// once and in reverse order.
//
// A fault applies to every call of its step that starts after it is set,
// until [Recorder.Heal] removes it; a step has at most one fault for its
// action and one for its compensation (setting another replaces it).
//
// A Recorder is safe for concurrent use (steps of package parallel and of
// durable graph runs call it at once); the zero Recorder is ready to use
// and injects nothing. S is the saga state type.
type Recorder[S any] struct {
	mu     sync.Mutex
	clock  uint64 // orders the starts and ends of calls
	calls  []Call
	faults map[where]fault
}

// where names what a fault applies to: a step's action or compensation.
type where struct {
	step string
	comp bool
}

// fault is what happens instead of a call, or before it.
type fault struct {
	err   error
	panic bool // panic with value
	value any
	hang  bool          // wait until the context ends
	delay time.Duration // wait, then call the function
}

// happen makes the fault happen; proceed says that the function is to be
// called after all (a delay has passed).
func (f *fault) happen(ctx context.Context) (proceed bool, err error) {
	switch {
	case f.panic:
		panic(f.value)
	case f.hang:
		<-ctx.Done()
		return false, context.Cause(ctx)
	case f.delay > 0:
		t := time.NewTimer(f.delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false, context.Cause(ctx)
		case <-t.C:
			return true, nil
		}
	}
	return false, f.err
}

// Action returns fn wrapped under the step's name: each call is
// recorded, and the step's fault, if one is set when the call starts,
// happens instead of fn. Pass it to [saga.Builder.Step] with the step's
// name:
//
//	Step("charge", rec.Action("charge", charge), rec.Compensation("charge", refund))
//
// It panics if fn is nil.
func (r *Recorder[S]) Action(step string, fn func(context.Context, *S) error) func(context.Context, *S) error {
	return r.wrap(where{step: step}, fn)
}

// Compensation is [Recorder.Action] for the step's compensation. A nil fn
// stays nil: the step has nothing to undo.
func (r *Recorder[S]) Compensation(step string, fn func(context.Context, *S) error) func(context.Context, *S) error {
	if fn == nil {
		return nil
	}
	return r.wrap(where{step: step, comp: true}, fn)
}

func (r *Recorder[S]) wrap(at where, fn func(context.Context, *S) error) func(context.Context, *S) error {
	if fn == nil {
		panic(fmt.Sprintf("sagatest: nil action for step %q", at.step))
	}
	return func(ctx context.Context, st *S) (err error) {
		c := Call{Step: at.step, Compensation: at.comp, RunID: saga.RunID(ctx), Key: durable.IdempotencyKey(ctx)}
		r.mu.Lock()
		r.clock++
		c.start = r.clock
		f, ok := r.faults[at]
		r.mu.Unlock()
		c.Injected = ok
		defer func() {
			if v := recover(); v != nil {
				r.record(c, &saga.PanicError{Value: v, Stack: debug.Stack()})
				panic(v) // the saga recovers it as the step's failure
			}
			r.record(c, err)
		}()
		if ok {
			if proceed, err := f.happen(ctx); !proceed {
				return err
			}
			c.Injected = false
		}
		return fn(ctx, st)
	}
}

func (r *Recorder[S]) record(c Call, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clock++
	c.end, c.Err = r.clock, err
	r.calls = append(r.calls, c)
}

func (r *Recorder[S]) set(at where, f fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.faults == nil {
		r.faults = map[where]fault{}
	}
	r.faults[at] = f
}

// FailAt makes the step's action fail with err, without calling it. It
// panics if err is nil.
func (r *Recorder[S]) FailAt(step string, err error) {
	if err == nil {
		panic("sagatest: FailAt with a nil error")
	}
	r.set(where{step: step}, fault{err: err})
}

// PanicAt makes the step's action panic with v, without calling it. The
// saga recovers the panic as the step's failure, a *[saga.PanicError].
func (r *Recorder[S]) PanicAt(step string, v any) {
	r.set(where{step: step}, fault{panic: true, value: v})
}

// HangAt makes the step's action wait, without calling it, until its
// context ends, and return the context's cause: the step's own timeout
// ([saga.Timeout]), the saga's deadline, the caller's cancellation or a
// durable run's lost lease ends it. Inside a [testing/synctest] bubble,
// a timeout passes as soon as every goroutine of the test waits.
func (r *Recorder[S]) HangAt(step string) {
	r.set(where{step: step}, fault{hang: true})
}

// DelayAt makes the step's action wait for d before it is called; if its
// context ends first, the action is not called and the call returns the
// context's cause, as with [Recorder.HangAt]. It panics if d is not
// positive.
func (r *Recorder[S]) DelayAt(step string, d time.Duration) {
	if d <= 0 {
		panic("sagatest: DelayAt with a delay that is not positive")
	}
	r.set(where{step: step}, fault{delay: d})
}

// FailCompensationAt makes the step's compensation fail with err, without
// calling it: each of its attempts, so that the run ends in
// [saga.StatusCompensationFailed]. It panics if err is nil.
func (r *Recorder[S]) FailCompensationAt(step string, err error) {
	if err == nil {
		panic("sagatest: FailCompensationAt with a nil error")
	}
	r.set(where{step: step, comp: true}, fault{err: err})
}

// Heal removes the faults of the step's action and compensation: the
// calls that start from now on call the functions the Recorder wraps.
// Heal a step before an operator resumes its run, as a person fixes the
// cause of a failure.
func (r *Recorder[S]) Heal(step string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.faults, where{step: step})
	delete(r.faults, where{step: step, comp: true})
}

// Calls returns the calls that have returned (or panicked), in the order
// they did. A call still running, such as one that hangs, is not among
// them.
func (r *Recorder[S]) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

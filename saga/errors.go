package saga

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
)

// ErrCompensationFailed is reachable with errors.Is from the error Run
// returns when at least one compensation failed: the saga ended in
// [StatusCompensationFailed] and needs a person's attention.
var ErrCompensationFailed = errors.New("saga: compensation failed")

// ErrNilState is returned by Run when the state pointer is nil.
var ErrNilState = errors.New("saga: nil state")

// ErrSuspended, returned (or wrapped) by an action, says that the step
// has not ended: it waits, and the runner will run it again later (the
// durable runner's Await and Sleep return it). The Execution records the
// step as still running, not failed, and calls [Hooks.OnStepSuspended]
// for it, not a hook for its end. A runner that cannot suspend a step
// treats it as a failure.
var ErrSuspended = errors.New("saga: step suspended")

// ErrDeadline is the cause of the forward context's end when the saga's own
// deadline (its timeout, less any compensation reserve) passes. It matches
// context.DeadlineExceeded with errors.Is.
var ErrDeadline error = deadlineError{}

type deadlineError struct{}

func (deadlineError) Error() string        { return "saga: deadline reached" }
func (deadlineError) Is(target error) bool { return target == context.DeadlineExceeded }

// Error is the error Run returns when a saga does not succeed. It unwraps
// to the failed step's own error and to every compensation failure, so
// errors.Is(err, cause) holds for each of them, and to
// [ErrCompensationFailed] when any compensation failed.
type Error struct {
	// Saga is the saga's name.
	Saga string
	// RunID identifies the run.
	RunID string
	// Step is the name of the failed step. It is empty when the saga
	// stopped between steps because its context ended.
	Step string
	// Err is the step's error, or the context's error when the saga
	// stopped between steps.
	Err error
	// Status is the saga's final status.
	Status Status
	// Others holds one [*StepError] per step that failed after the first,
	// when steps ran concurrently (package parallel, durable graph runs).
	// Steps cancelled because of the first failure ([StepCancelled]) are
	// not among them.
	Others []error
	// Compensation holds one [*CompensationError] per failed compensation,
	// in the order they ended.
	Compensation []error
}

var _ error = (*Error)(nil)

// Error describes the failure and how the saga ended.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("saga")
	if e.Saga != "" {
		fmt.Fprintf(&b, " %q", e.Saga)
	}
	if e.Step != "" {
		fmt.Fprintf(&b, ": step %q failed", e.Step)
	} else {
		b.WriteString(": stopped")
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	for _, o := range e.Others {
		fmt.Fprintf(&b, "; also %v", o)
	}
	fmt.Fprintf(&b, " (%s", e.Status)
	if n := len(e.Compensation); n > 0 {
		fmt.Fprintf(&b, "; %d compensation(s) failed: ", n)
		for i, c := range e.Compensation {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(c.Error())
		}
	}
	b.WriteString(")")
	return b.String()
}

// Unwrap returns the step's error, the other steps' failures, then
// [ErrCompensationFailed] and every compensation failure if there were
// any.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2+len(e.Others)+len(e.Compensation))
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	errs = append(errs, e.Others...)
	if len(e.Compensation) > 0 {
		errs = append(errs, ErrCompensationFailed)
		errs = append(errs, e.Compensation...)
	}
	return errs
}

// StepError is the failure of one step's action, when several failed.
type StepError struct {
	// Step is the name of the failed step.
	Step string
	// Err is the action's error.
	Err error
}

// Error returns `step "name" failed: err`.
func (e *StepError) Error() string { return fmt.Sprintf("step %q failed: %v", e.Step, e.Err) }

// Unwrap returns the action's error.
func (e *StepError) Unwrap() error { return e.Err }

// CompensationError is a failed compensation of one step.
type CompensationError struct {
	// Step is the name of the step whose compensation failed.
	Step string
	// Err is the compensation's error.
	Err error
}

// Error returns `compensating "step": err`.
func (e *CompensationError) Error() string {
	return fmt.Sprintf("compensating %q: %v", e.Step, e.Err)
}

// Unwrap returns the compensation's error.
func (e *CompensationError) Unwrap() error { return e.Err }

// PanicError is a panic recovered from an action or a compensation. The
// saga treats it as that function's failure.
type PanicError struct {
	// Value is the value passed to panic.
	Value any
	// Stack is the panicking goroutine's stack trace.
	Stack []byte
}

func newPanicError(v any) *PanicError {
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// Error returns "panic: " and the value. The stack is in the Stack field.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error, so errors.Is reaches
// an error passed to panic.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// DefinitionError is a problem in a saga definition found by
// [Builder.Compile] (and made a panic by [Builder.Build]). It unwraps to
// each problem, among them builder's [builder.Error] values.
type DefinitionError struct {
	// Saga is the saga's name.
	Saga string
	// Problems lists every problem found.
	Problems []error
}

// Error starts with "saga: " and lists the problems.
func (e *DefinitionError) Error() string {
	var b strings.Builder
	b.WriteString("saga: ")
	if e.Saga != "" {
		fmt.Fprintf(&b, "%q: ", e.Saga)
	}
	b.WriteString("invalid definition: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems.
func (e *DefinitionError) Unwrap() []error { return e.Problems }

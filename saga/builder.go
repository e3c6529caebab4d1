package saga

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/retry"
)

// Step is a step written as a type: Execute is its action and Compensate
// undoes it. Add one with [Builder.Add]. S is the saga state type.
type Step[S any] interface {
	Execute(ctx context.Context, state *S) error
	Compensate(ctx context.Context, state *S) error
}

// Builder collects a saga's definition. Its methods return the builder so
// calls chain; definition errors are collected and reported by [Builder.Build]
// (which panics) or [Builder.Compile] (which returns them), never by Run.
//
// A Builder is not safe for concurrent use. Building does not consume it:
// Build snapshots the definition, so later calls change only sagas built
// later. S is the saga state type.
type Builder[S any] struct {
	name         string
	steps        []stepDef
	fns          []stepFuncs[S]
	hooks        *Hooks
	logger       *slog.Logger
	timeout      time.Duration
	reserve      time.Duration
	compTimeout  time.Duration
	compRetry    *retry.Policy
	compensateOn func(error) bool
	errs         []error
}

// stepDef is a step's declaration apart from its typed functions.
type stepDef struct {
	name             string
	kind             builder.Kind
	after            []string
	timeout          time.Duration
	compTimeout      time.Duration
	retry            *retry.Policy
	compRetry        *retry.Policy
	compensateFailed bool
	idempotent       bool
	errs             []error
}

type stepFuncs[S any] struct {
	action, compensate func(context.Context, *S) error
}

// New starts the definition of a saga over state type S.
func New[S any]() *Builder[S] { return &Builder[S]{} }

// Name names the saga. The name appears in reports, errors, hooks and
// logs, and identifies the definition in durable stores.
func (b *Builder[S]) Name(name string) *Builder[S] {
	b.name = name
	return b
}

// Step adds a step: its name (unique, non-empty), its action, and the
// compensation that undoes the action (nil when there is nothing to undo:
// the step is then skipped when the saga unwinds).
func (b *Builder[S]) Step(name string, action, compensate func(context.Context, *S) error, opts ...StepOption) *Builder[S] {
	d := stepDef{name: name}
	if action == nil {
		d.bad("nil action (or nil Step)")
	}
	for _, o := range opts {
		if o == nil {
			d.bad("nil option")
			continue
		}
		o(&d)
	}
	if d.kind == builder.Retriable && compensate != nil {
		d.bad("a retriable step is never compensated, so it takes no compensation")
	}
	b.steps = append(b.steps, d)
	b.fns = append(b.fns, stepFuncs[S]{action, compensate})
	return b
}

// Add adds a step written as a type (see [Step]).
func (b *Builder[S]) Add(name string, step Step[S], opts ...StepOption) *Builder[S] {
	if step == nil {
		return b.Step(name, nil, nil, opts...) // reported as a nil action
	}
	var compensate func(context.Context, *S) error
	if !isRetriable(opts) {
		compensate = step.Compensate
	}
	return b.Step(name, step.Execute, compensate, opts...)
}

func isRetriable(opts []StepOption) bool {
	var d stepDef
	for _, o := range opts {
		if o != nil {
			o(&d)
		}
	}
	return d.kind == builder.Retriable
}

// WithHooks sets the lifecycle callbacks. Build copies *h.
func (b *Builder[S]) WithHooks(h *Hooks) *Builder[S] {
	b.hooks = h
	return b
}

// WithLogger logs the saga's events to l: step starts and successes at
// Debug, failures and compensations at Warn, failed compensations at
// Error. Without a logger the saga logs nothing.
func (b *Builder[S]) WithLogger(l *slog.Logger) *Builder[S] {
	b.logger = l
	return b
}

// WithTimeout bounds each run's forward work: after d (less the
// compensation reserve) no new step starts, the running step's context
// ends with cause [ErrDeadline], and completed steps are compensated.
func (b *Builder[S]) WithTimeout(d time.Duration) *Builder[S] {
	if d <= 0 {
		b.errs = append(b.errs, fmt.Errorf("WithTimeout(%v): must be positive", d))
	}
	b.timeout = d
	return b
}

// WithCompensationReserve keeps d of the saga's time for compensation:
// forward work must end d before the saga's deadline (its timeout, or the
// caller's context deadline, whichever comes first), so that unwinding
// still fits before it. Compensations themselves are not cut off by the
// deadline: they run on a context detached from the caller's cancellation,
// bounded by their own timeouts and retry policies.
func (b *Builder[S]) WithCompensationReserve(d time.Duration) *Builder[S] {
	if d <= 0 {
		b.errs = append(b.errs, fmt.Errorf("WithCompensationReserve(%v): must be positive", d))
	}
	b.reserve = d
	return b
}

// WithCompensationTimeout bounds each attempt of every compensation that
// has no [CompensationTimeout] of its own.
func (b *Builder[S]) WithCompensationTimeout(d time.Duration) *Builder[S] {
	if d <= 0 {
		b.errs = append(b.errs, fmt.Errorf("WithCompensationTimeout(%v): must be positive", d))
	}
	b.compTimeout = d
	return b
}

// WithCompensationRetry sets the retry policy of every compensation that
// has no [CompensationRetry] of its own, instead of
// [DefaultCompensationRetry].
func (b *Builder[S]) WithCompensationRetry(p retry.Policy) *Builder[S] {
	b.compRetry = &p
	return b
}

// CompensateOn filters the errors that trigger compensation: when a step
// fails with an error for which match returns false, Run returns at once
// with [StatusFailed] and compensates nothing. Without a filter every error
// compensates. When the saga's context ended (cancellation or deadline)
// the saga always compensates.
//
//	b.CompensateOn(func(err error) bool { return errors.Is(err, ErrDeclined) })
func (b *Builder[S]) CompensateOn(match func(error) bool) *Builder[S] {
	b.compensateOn = match
	return b
}

// Build returns the immutable saga defined so far. It panics with a message
// starting "saga: " on a definition error: an empty or duplicate step name,
// a nil action, an unknown dependency, a cycle, a misplaced pivot or
// retriable step, an invalid option. Use [Builder.Compile] for definitions
// made from data.
func (b *Builder[S]) Build() *Saga[S] {
	sg, err := b.Compile()
	if err != nil {
		panic(err.Error())
	}
	return sg
}

// Compile is Build returning a [*DefinitionError] instead of panicking.
func (b *Builder[S]) Compile() (*Saga[S], error) {
	problems := append([]error(nil), b.errs...)
	decls := make([]builder.Decl, len(b.steps))
	for i, d := range b.steps {
		problems = append(problems, d.errs...)
		decls[i] = builder.Decl{Name: d.name, Kind: d.kind, After: d.after}
	}
	plan, err := builder.Compile(decls)
	if err != nil {
		problems = append(problems, unjoin(err)...)
	}
	if len(problems) > 0 {
		return nil, &DefinitionError{Saga: b.name, Problems: problems}
	}
	return b.snapshot(plan), nil
}

// unjoin flattens an errors.Join result.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

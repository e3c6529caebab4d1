package saga

import (
	"context"
	"log/slog"
	"time"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/retry"
)

// Saga is an immutable saga definition made by [Builder.Build]. It is safe
// for concurrent use: any number of goroutines may Run it at once, each
// with its own state. S is the saga state type.
type Saga[S any] struct {
	name         string
	plan         *builder.Plan
	steps        []step[S]
	hooks        *Hooks
	logger       *slog.Logger
	observed     bool // hooks or logger set
	timeout      time.Duration
	reserve      time.Duration
	compensateOn func(error) bool
	layout       runLayout
}

// step is a compiled step: everything Run needs, resolved at Build.
type step[S any] struct {
	name             string
	kind             builder.Kind
	action           func(context.Context, *S) error
	compensate       func(context.Context, *S) error
	timeout          time.Duration
	retry            *retry.Policy // nil: one attempt, bounded by timeout
	compRetry        retry.Policy  // attempt timeout included
	compensateFailed bool
	idempotent       bool
}

func (b *Builder[S]) snapshot(plan *builder.Plan) *Saga[S] {
	sg := &Saga[S]{
		name:         b.name,
		plan:         plan,
		steps:        make([]step[S], len(b.steps)),
		logger:       b.logger,
		timeout:      b.timeout,
		reserve:      b.reserve,
		compensateOn: b.compensateOn,
	}
	if b.hooks != nil {
		h := *b.hooks
		sg.hooks = &h
	}
	sg.observed = sg.hooks != nil || sg.logger != nil
	compDefault := DefaultCompensationRetry
	if b.compRetry != nil {
		compDefault = *b.compRetry
	}
	for i, d := range b.steps {
		st := step[S]{
			name:             d.name,
			kind:             d.kind,
			action:           b.fns[i].action,
			compensate:       b.fns[i].compensate,
			timeout:          d.timeout,
			compensateFailed: d.compensateFailed,
			idempotent:       d.idempotent,
		}
		if d.retry != nil || d.kind == builder.Retriable {
			p := DefaultForwardRetry
			if d.retry != nil {
				p = *d.retry
			}
			if p.AttemptTimeout == 0 {
				p.AttemptTimeout = d.timeout
			}
			st.retry = &p
		}
		st.compRetry = compDefault
		if d.compRetry != nil {
			st.compRetry = *d.compRetry
		}
		if st.compRetry.AttemptTimeout == 0 {
			st.compRetry.AttemptTimeout = b.compTimeout
			if d.compTimeout > 0 {
				st.compRetry.AttemptTimeout = d.compTimeout
			}
		}
		sg.steps[i] = st
	}
	sg.layout = newRunLayout[S](len(sg.steps))
	return sg
}

// Name returns the saga's name.
func (sg *Saga[S]) Name() string { return sg.name }

// Plan returns the validated plan of the saga's steps: their names, kinds,
// dependencies, order and fingerprint.
func (sg *Saga[S]) Plan() *builder.Plan { return sg.plan }

// mustBeBuilt panics on a Saga that Build did not make (a nil pointer or
// the zero Saga): misuse, caught where it happens with a clear message.
func (sg *Saga[S]) mustBeBuilt() {
	if sg == nil || sg.plan == nil {
		panic("saga: Saga not built: make one with saga.New[S]()…Build()")
	}
}

// Idempotent reports whether step i (in declaration order) was declared
// [Idempotent].
func (sg *Saga[S]) Idempotent(i int) bool { return sg.steps[i].idempotent }

// HasCompensation reports whether step i (in declaration order) has a
// compensation: a durable runner decides by it whether a step whose
// outcome is unknown can be undone.
func (sg *Saga[S]) HasCompensation(i int) bool { return sg.steps[i].compensate != nil }

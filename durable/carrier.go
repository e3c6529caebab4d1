package durable

import (
	"context"
	"net/url"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// Propagator carries values of a run's context across the processes that
// drive the run: most often a trace context, so that a run recovered by
// another worker after a crash, woken by a signal, or resumed by an
// operator stays in the trace it started in (package otelsaga, a nested
// module, has one for OpenTelemetry). The engine knows nothing of what
// the values mean.
//
// Methods are called concurrently, by every run the engine starts or
// drives, and must be quick.
type Propagator interface {
	// Inject returns the values to journal with a new run, taken from
	// ctx: the run's own context with [Definition.Run] (where the saga's
	// hooks have put the run's span), the caller's with
	// [Definition.Start], which journals a run that has not started. A
	// nil or empty map journals nothing.
	Inject(ctx context.Context, run saga.RunInfo) map[string]string
	// Extract returns ctx with the journaled values (carrier, nil when the
	// run was journaled without any) put back. Its result is the context
	// a run driven again starts from: recovered, woken, or carrying out a
	// request.
	Extract(ctx context.Context, run saga.RunInfo, carrier map[string]string) context.Context
}

// WithPropagator journals with each new run the values p takes from its
// context, and gives them back to its context each time a worker drives
// it again (default: none).
//
// The values are journaled in the Note of the run's first entry
// ([journal.RunStarted]), URL-encoded ("traceparent=00-…"), so that any
// store keeps them without a field of its own; operator tools show them
// as that entry's note. A run journaled without them (before the option
// was set) is driven on a context without them.
func WithPropagator(p Propagator) Option { return func(e *Engine) { e.prop = p } }

// carrierNote returns the note of a new run's RunStarted entry: the
// values the engine's Propagator takes from ctx, URL-encoded, or "".
func (e *Engine) carrierNote(ctx context.Context, run saga.RunInfo) string {
	if e.prop == nil {
		return ""
	}
	m := e.prop.Inject(ctx, run)
	if len(m) == 0 {
		return ""
	}
	v := make(url.Values, len(m))
	for k, s := range m {
		v.Set(k, s)
	}
	return v.Encode()
}

// withCarrier returns ctx with the values journaled with run (see
// carrierNote) put back by the engine's Propagator. A note that does not
// decode gives what of it does.
func (e *Engine) withCarrier(ctx context.Context, run journal.Run, entries []journal.Entry) context.Context {
	if e.prop == nil {
		return ctx
	}
	var carrier map[string]string
	if len(entries) > 0 && entries[0].Kind == journal.RunStarted && entries[0].Note != "" {
		v, _ := url.ParseQuery(entries[0].Note)
		carrier = make(map[string]string, len(v))
		for k, s := range v {
			if len(s) > 0 {
				carrier[k] = s[0]
			}
		}
	}
	return e.prop.Extract(ctx, saga.RunInfo{Saga: run.Saga, RunID: run.ID}, carrier)
}

package otelsaga

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/saga"
)

var _ durable.Propagator = (*Telemetry)(nil)

// Inject and Extract make the Telemetry a durable.Propagator: with
// durable.WithPropagator(t), a durable run stays one trace whichever
// worker drives it.
//
// Definition.Run journals the run's own span: a worker that recovers the
// run after a crash, wakes it after a wait, or carries out an operator's
// request starts the run's next span as its child. Definition.Start
// journals a run that has not started: Inject then makes a span "start
// <saga>" (a producer span, child of the caller's span if any, ended at
// once) and journals it, so that the runs' spans, whichever worker makes
// them, are its children.

// Inject returns the trace context to journal with a new run (see above).
func (t *Telemetry) Inject(ctx context.Context, run saga.RunInfo) map[string]string {
	if rc := runOf(ctx); (rc == nil || rc.runID != run.RunID) && t.tracing {
		var sp trace.Span
		ctx, sp = t.tracer.Start(ctx, "start "+run.Saga, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(keySaga.String(run.Saga), keyRunID.String(run.RunID)))
		sp.End()
	}
	c := propagation.MapCarrier{}
	t.prop.Inject(ctx, c)
	return c
}

// Extract returns ctx with the trace context journaled with a run (see
// above) as its parent span.
func (t *Telemetry) Extract(ctx context.Context, _ saga.RunInfo, carrier map[string]string) context.Context {
	if len(carrier) == 0 {
		return ctx
	}
	return t.prop.Extract(ctx, propagation.MapCarrier(carrier))
}

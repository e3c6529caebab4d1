package otelsaga

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// The hooks keep what they started in the context they return: a run's,
// a step execution's or a compensation's span, start time and reusable
// telemetry. Each is one allocation, wrapping the context the tracer
// returned (which holds the span for the code the step calls).

type (
	runKey  struct{}
	stepKey struct{}
)

// runCtx is a run's context.
type runCtx struct {
	context.Context
	meta  *sagaMeta
	runID string
	span  trace.Span // nil when not tracing, or the run is not sampled
	start time.Time
}

func (c *runCtx) Value(key any) any {
	if _, ok := key.(runKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// stepCtx is the context of a step's execution or compensation.
type stepCtx struct {
	context.Context
	runID string
	index int
	meta  *stepMeta
	span  trace.Span // nil when not traced
	// The start, for the metrics: base plus since, so that it costs one
	// reading of the monotonic clock when base is the run's start.
	base  time.Time
	since time.Duration
}

// took returns how long the step has run.
func (c *stepCtx) took() time.Duration { return time.Since(c.base) - c.since }

func (c *stepCtx) Value(key any) any {
	if _, ok := key.(stepKey); ok {
		return c
	}
	return c.Context.Value(key)
}

func runOf(ctx context.Context) *runCtx {
	rc, _ := ctx.Value(runKey{}).(*runCtx)
	return rc
}

// stepOf returns the context of step's execution or compensation, or nil
// if it has none (it is neither traced nor measured): not the context of
// a step of another run, such as a step that runs a saga.
func stepOf(ctx context.Context, step saga.StepInfo) *stepCtx {
	sc, _ := ctx.Value(stepKey{}).(*stepCtx)
	if sc == nil || sc.index != step.Index || sc.runID != step.RunID {
		return nil
	}
	return sc
}

func (t *Telemetry) runContext(ctx context.Context, run saga.RunInfo) context.Context {
	if !t.tracing && !t.metrics {
		return ctx
	}
	rc := &runCtx{meta: t.saga(run.Saga), runID: run.RunID, start: time.Now()}
	if t.tracing {
		var sp trace.Span
		ctx, sp = t.tracer.Start(ctx, rc.meta.runSpan,
			trace.WithAttributes(keySaga.String(run.Saga), keyRunID.String(run.RunID)))
		if sp.IsRecording() {
			rc.span = sp
		} // else the run is not sampled: nor are its steps, which make no span
	}
	rc.Context = ctx
	if t.metrics {
		t.inst.runStarted.Add(ctx, 1, rc.meta.runAdd...)
		t.inst.runActive.Add(ctx, 1, rc.meta.runAdd...)
	}
	return rc
}

func (t *Telemetry) compensationStarted(ctx context.Context, run saga.RunInfo, cause error) {
	if rc := runOf(ctx); rc != nil && rc.runID == run.RunID && rc.span != nil {
		rc.span.AddEvent("compensation started", trace.WithAttributes(keyCause.String(errText(cause))))
	}
}

func (t *Telemetry) completed(ctx context.Context, rep *saga.Report) {
	rc := runOf(ctx)
	if rc == nil || rc.runID != rep.RunID {
		return // a run refused at its start (nil state): it did not start
	}
	status := runStatus(rep)
	if t.metrics {
		opts := rc.meta.endedOpts(status)
		t.inst.runEnded.Add(ctx, 1, opts.add...)
		t.inst.runActive.Add(ctx, -1, rc.meta.runAdd...)
		t.inst.runDuration.Record(ctx, time.Since(rc.start).Seconds(), opts.record...)
	}
	if sp := rc.span; sp != nil {
		sp.SetAttributes(keyStatus.String(statuses[status]))
		switch status {
		case saga.StatusSucceeded, statusWaiting:
		default:
			if rep.Err == nil || errors.Is(rep.Err, durable.ErrStopping) {
				break
			}
			sp.SetStatus(codes.Error, rep.Err.Error())
		}
		sp.End()
	}
}

// runStatus is the status of a run's end, as the metrics name it.
func runStatus(rep *saga.Report) saga.Status {
	if rep.Status != saga.StatusFailed || rep.Err == nil {
		return rep.Status
	}
	switch {
	case errors.Is(rep.Err, durable.ErrWaiting):
		return statusWaiting
	case errors.Is(rep.Err, durable.ErrStopping), errors.Is(rep.Err, journal.ErrLeaseLost),
		errors.Is(rep.Err, durable.ErrJournal):
		return statusInterrupted
	}
	return rep.Status
}

func (t *Telemetry) stepContext(ctx context.Context, step saga.StepInfo) context.Context {
	sc, traced := t.newStepCtx(ctx, step)
	if sc == nil {
		return ctx
	}
	if traced {
		ctx, sc.span = t.tracer.Start(ctx, sc.meta.span, sc.meta.spanOpts...)
	}
	sc.Context = ctx
	return sc
}

// newStepCtx returns the context of a step's execution or compensation
// that starts now, but for its Context and span, and whether to trace it
// (make its span); or nil if there is nothing to trace nor to measure:
// the run is not sampled, and metrics are off.
func (t *Telemetry) newStepCtx(ctx context.Context, step saga.StepInfo) (sc *stepCtx, traced bool) {
	rc := runOf(ctx)
	if rc != nil && rc.runID != step.RunID {
		rc = nil // a run whose step runs this one's
	}
	traced = t.tracing
	if rc != nil {
		traced = rc.span != nil
	}
	if !traced && !t.metrics {
		return nil, false
	}
	sc = &stepCtx{runID: step.RunID, index: step.Index}
	if rc != nil {
		sc.meta = rc.meta.step(step.Index, step.Step)
	} else {
		sc.meta = t.saga(step.Saga).step(step.Index, step.Step)
	}
	if t.metrics {
		if rc != nil {
			sc.base, sc.since = rc.start, time.Since(rc.start)
		} else {
			sc.base = time.Now()
		}
	}
	return sc, traced
}

// stepEnded ends a step's execution with outcome o, after took if it is
// known (> 0).
func (t *Telemetry) stepEnded(ctx context.Context, step saga.StepInfo, o int, took time.Duration, err error) {
	sc := stepOf(ctx, step)
	if sc == nil {
		return
	}
	if t.metrics {
		if took <= 0 {
			took = sc.took()
		}
		t.inst.stepDuration.Record(ctx, took.Seconds(), sc.meta.duration[o]...)
	}
	if sp := sc.span; sp != nil {
		// A first attempt that succeeded is the rule: the span says
		// nothing more of it.
		switch {
		case o != outSucceeded:
			sp.SetAttributes(keyTries.Int(step.Attempt), keyOutcome.String(outcomeNames[o]))
		case step.Attempt > 1:
			sp.SetAttributes(keyTries.Int(step.Attempt))
		}
		switch o {
		case outFailed:
			sp.RecordError(err)
			sp.SetStatus(codes.Error, err.Error())
		case outCancelled:
			// Not the step's own failure but the end of its context (a
			// sibling failed, the caller gave up): recorded, the span's
			// status left unset.
			sp.AddEvent("cancelled", trace.WithAttributes(keyCause.String(errText(err))))
		}
		sp.End()
	}
}

func (t *Telemetry) stepSucceeded(ctx context.Context, step saga.StepInfo, took time.Duration) {
	t.stepEnded(ctx, step, outSucceeded, took, nil)
}

func (t *Telemetry) stepFailed(ctx context.Context, step saga.StepInfo, err error) {
	o := outFailed
	if ctx.Err() != nil && (errors.Is(err, ctx.Err()) || errors.Is(err, context.Cause(ctx))) {
		o = outCancelled // ended by the run's cancellation (a sibling failed, the caller gave up)
	}
	t.stepEnded(ctx, step, o, 0, err)
}

func (t *Telemetry) stepSuspended(ctx context.Context, step saga.StepInfo, _ error) {
	t.stepEnded(ctx, step, outSuspended, 0, nil)
}

func (t *Telemetry) stepRetrying(ctx context.Context, step saga.StepInfo, err error, delay time.Duration) {
	t.retrying(ctx, step, err, delay, 0)
}

func (t *Telemetry) compensationRetrying(ctx context.Context, step saga.StepInfo, err error, delay time.Duration) {
	t.retrying(ctx, step, err, delay, 1)
}

// retrying records a failed attempt that will be retried: an event on
// the span, a count in the metrics.
func (t *Telemetry) retrying(ctx context.Context, step saga.StepInfo, err error, delay time.Duration, phase int) {
	sc := stepOf(ctx, step)
	if sc == nil {
		return
	}
	if t.metrics {
		t.inst.retries.Add(ctx, 1, sc.meta.retries[phase]...)
	}
	if sc.span != nil {
		sc.span.AddEvent("retry", trace.WithAttributes(keyAttempt.Int(step.Attempt),
			keyDelay.Float64(delay.Seconds()), keyError.String(errText(err))))
	}
}

func (t *Telemetry) compensationContext(ctx context.Context, step saga.StepInfo) context.Context {
	sc, traced := t.newStepCtx(ctx, step)
	if sc == nil {
		return ctx
	}
	if traced {
		ctx, sc.span = t.tracer.Start(ctx, sc.meta.compSpan, sc.meta.spanOpts...)
	}
	sc.Context = ctx
	return sc
}

// compensationEnded ends a compensation with outcome c.
func (t *Telemetry) compensationEnded(ctx context.Context, step saga.StepInfo, c int, err error) {
	sc := stepOf(ctx, step)
	if sc == nil {
		return
	}
	if t.metrics {
		t.inst.compEnded.Add(ctx, 1, sc.meta.compEnded[c]...)
	}
	if sp := sc.span; sp != nil {
		if step.Attempt > 1 || err != nil {
			sp.SetAttributes(keyTries.Int(step.Attempt))
		}
		if err != nil {
			sp.RecordError(err)
			sp.SetStatus(codes.Error, err.Error())
		}
		sp.End()
	}
}

func (t *Telemetry) stepCompensated(ctx context.Context, step saga.StepInfo) {
	t.compensationEnded(ctx, step, compCompensated, nil)
}

func (t *Telemetry) compensationFailed(ctx context.Context, step saga.StepInfo, err error) {
	t.compensationEnded(ctx, step, compFailed, err)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

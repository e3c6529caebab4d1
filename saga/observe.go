package saga

import (
	"context"
	"log/slog"
	"time"
)

// The run's observers: each calls the hook (if set) and logs (if a logger
// is set). Callers check sg.observed first, so an unobserved saga pays
// nothing.

func (x *Execution[S]) info() RunInfo { return RunInfo{Saga: x.sg.name, RunID: x.rep.RunID} }

func (x *Execution[S]) step(i, attempt int) StepInfo {
	return StepInfo{RunInfo: x.info(), Step: x.sg.steps[i].name, Index: i, Attempt: attempt}
}

// logs reports whether the saga logs records of level: callers ask
// first, so that a record dropped costs no attributes.
func (x *Execution[S]) logs(ctx context.Context, level slog.Level) bool {
	l := x.sg.logger
	return l != nil && l.Enabled(ctx, level)
}

// log writes a record of the run, with its saga's name and run ID after
// attrs. Call it when logs says so.
func (x *Execution[S]) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	var buf [8]slog.Attr // on the stack: no allocation for a record of ours
	all := append(append(buf[:0], attrs...), slog.String("saga", x.sg.name), slog.String("run_id", x.rep.RunID))
	x.sg.logger.LogAttrs(ctx, level, msg, all...)
}

// runContext, stepContext and compensationContext return the context of
// what starts: ctx, or the one the hook derives from it.

func (x *Execution[S]) runContext(ctx context.Context) context.Context {
	if h := x.sg.hooks; h != nil && h.RunContext != nil {
		return h.RunContext(ctx, x.info())
	}
	return ctx
}

func (x *Execution[S]) stepContext(ctx context.Context, i int) context.Context {
	if h := x.sg.hooks; h != nil && h.StepContext != nil {
		return h.StepContext(ctx, x.step(i, 0))
	}
	return ctx
}

func (x *Execution[S]) compensationContext(ctx context.Context, i int) context.Context {
	if h := x.sg.hooks; h != nil && h.CompensationContext != nil {
		return h.CompensationContext(ctx, x.step(i, 0))
	}
	return ctx
}

func (x *Execution[S]) started(ctx context.Context) {
	if h := x.sg.hooks; h != nil && h.OnStart != nil {
		h.OnStart(ctx, x.info())
	}
	if x.logs(ctx, slog.LevelDebug) {
		x.log(ctx, slog.LevelDebug, "saga started", slog.Int("steps", len(x.sg.steps)))
	}
}

func (x *Execution[S]) stepStarted(ctx context.Context, i, attempt int) {
	if h := x.sg.hooks; h != nil && h.OnStepStart != nil {
		h.OnStepStart(ctx, x.step(i, attempt))
	}
	if x.logs(ctx, slog.LevelDebug) {
		x.log(ctx, slog.LevelDebug, "step started", slog.String("step", x.sg.steps[i].name), slog.Int("attempt", attempt))
	}
}

func (x *Execution[S]) stepSucceeded(ctx context.Context, i, attempt int, took time.Duration) {
	if h := x.sg.hooks; h != nil && h.OnStepSuccess != nil {
		h.OnStepSuccess(ctx, x.step(i, attempt), took)
	}
	if x.logs(ctx, slog.LevelDebug) {
		x.log(ctx, slog.LevelDebug, "step succeeded", slog.String("step", x.sg.steps[i].name),
			slog.Int("attempt", attempt), slog.Duration("took", took))
	}
}

func (x *Execution[S]) stepFailed(ctx context.Context, i, attempt int, err error) {
	if h := x.sg.hooks; h != nil && h.OnStepFailure != nil {
		h.OnStepFailure(ctx, x.step(i, attempt), err)
	}
	if x.logs(ctx, slog.LevelWarn) {
		x.log(ctx, slog.LevelWarn, "step failed", slog.String("step", x.sg.steps[i].name),
			slog.Int("attempts", attempt), slog.Any("error", err))
	}
}

func (x *Execution[S]) stepSuspended(ctx context.Context, i, attempt int, err error) {
	if h := x.sg.hooks; h != nil && h.OnStepSuspended != nil {
		h.OnStepSuspended(ctx, x.step(i, attempt), err)
	}
	if x.logs(ctx, slog.LevelDebug) {
		x.log(ctx, slog.LevelDebug, "step suspended", slog.String("step", x.sg.steps[i].name),
			slog.Int("attempt", attempt), slog.Any("error", err))
	}
}

func (x *Execution[S]) retrying(ctx context.Context, i, attempt int, err error, delay time.Duration, compensation bool) {
	h := x.sg.hooks
	msg := "step will retry"
	if compensation {
		msg = "compensation will retry"
		if h != nil && h.OnCompensationRetry != nil {
			h.OnCompensationRetry(ctx, x.step(i, attempt), err, delay)
		}
	} else if h != nil && h.OnStepRetry != nil {
		h.OnStepRetry(ctx, x.step(i, attempt), err, delay)
	}
	if x.logs(ctx, slog.LevelWarn) {
		x.log(ctx, slog.LevelWarn, msg, slog.String("step", x.sg.steps[i].name),
			slog.Int("attempt", attempt), slog.Any("error", err), slog.Duration("delay", delay))
	}
}

func (x *Execution[S]) compensationStarted(ctx context.Context, cause error) {
	if h := x.sg.hooks; h != nil && h.OnCompensationStart != nil {
		h.OnCompensationStart(ctx, x.info(), cause)
	}
	if x.logs(ctx, slog.LevelWarn) {
		x.log(ctx, slog.LevelWarn, "compensation started", slog.Any("cause", cause))
	}
}

func (x *Execution[S]) stepCompensated(ctx context.Context, i, attempt int) {
	if h := x.sg.hooks; h != nil && h.OnStepCompensated != nil {
		h.OnStepCompensated(ctx, x.step(i, attempt))
	}
	if x.logs(ctx, slog.LevelWarn) {
		x.log(ctx, slog.LevelWarn, "step compensated", slog.String("step", x.sg.steps[i].name), slog.Int("attempts", attempt))
	}
}

func (x *Execution[S]) compensationFailed(ctx context.Context, i, attempt int, err error) {
	if h := x.sg.hooks; h != nil && h.OnCompensationFailure != nil {
		h.OnCompensationFailure(ctx, x.step(i, attempt), err)
	}
	if x.logs(ctx, slog.LevelError) {
		x.log(ctx, slog.LevelError, "compensation failed", slog.String("step", x.sg.steps[i].name),
			slog.Int("attempts", attempt), slog.Any("error", err))
	}
}

func (x *Execution[S]) completed(ctx context.Context) {
	if h := x.sg.hooks; h != nil && h.OnComplete != nil {
		h.OnComplete(ctx, &x.rep)
	}
	level := slog.LevelInfo
	switch x.rep.Status {
	case StatusCompensated:
		level = slog.LevelWarn
	case StatusCompensationFailed, StatusFailed:
		level = slog.LevelError
	}
	if !x.logs(ctx, level) {
		return
	}
	status, took := slog.String("status", x.rep.Status.String()), slog.Duration("took", x.rep.Duration())
	if x.rep.Err != nil {
		x.log(ctx, level, "saga ended", status, took, slog.Any("error", x.rep.Err))
	} else {
		x.log(ctx, level, "saga ended", status, took)
	}
}

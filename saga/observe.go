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

func (x *Execution[S]) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if l := x.sg.logger; l != nil {
		attrs = append(attrs, slog.String("saga", x.sg.name), slog.String("run_id", x.rep.RunID))
		l.LogAttrs(ctx, level, msg, attrs...)
	}
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
	x.log(ctx, slog.LevelDebug, "saga started", slog.Int("steps", len(x.sg.steps)))
}

func (x *Execution[S]) stepStarted(ctx context.Context, i, attempt int) {
	if h := x.sg.hooks; h != nil && h.OnStepStart != nil {
		h.OnStepStart(ctx, x.step(i, attempt))
	}
	x.log(ctx, slog.LevelDebug, "step started", slog.String("step", x.sg.steps[i].name), slog.Int("attempt", attempt))
}

func (x *Execution[S]) stepSucceeded(ctx context.Context, i, attempt int, took time.Duration) {
	if h := x.sg.hooks; h != nil && h.OnStepSuccess != nil {
		h.OnStepSuccess(ctx, x.step(i, attempt), took)
	}
	x.log(ctx, slog.LevelDebug, "step succeeded", slog.String("step", x.sg.steps[i].name),
		slog.Int("attempt", attempt), slog.Duration("took", took))
}

func (x *Execution[S]) stepFailed(ctx context.Context, i, attempt int, err error) {
	if h := x.sg.hooks; h != nil && h.OnStepFailure != nil {
		h.OnStepFailure(ctx, x.step(i, attempt), err)
	}
	x.log(ctx, slog.LevelWarn, "step failed", slog.String("step", x.sg.steps[i].name),
		slog.Int("attempts", attempt), slog.Any("error", err))
}

func (x *Execution[S]) stepSuspended(ctx context.Context, i, attempt int, err error) {
	if h := x.sg.hooks; h != nil && h.OnStepSuspended != nil {
		h.OnStepSuspended(ctx, x.step(i, attempt), err)
	}
	x.log(ctx, slog.LevelDebug, "step suspended", slog.String("step", x.sg.steps[i].name),
		slog.Int("attempt", attempt), slog.Any("error", err))
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
	x.log(ctx, slog.LevelWarn, msg, slog.String("step", x.sg.steps[i].name),
		slog.Int("attempt", attempt), slog.Any("error", err), slog.Duration("delay", delay))
}

func (x *Execution[S]) compensationStarted(ctx context.Context, cause error) {
	if h := x.sg.hooks; h != nil && h.OnCompensationStart != nil {
		h.OnCompensationStart(ctx, x.info(), cause)
	}
	x.log(ctx, slog.LevelWarn, "compensation started", slog.Any("cause", cause))
}

func (x *Execution[S]) stepCompensated(ctx context.Context, i, attempt int) {
	if h := x.sg.hooks; h != nil && h.OnStepCompensated != nil {
		h.OnStepCompensated(ctx, x.step(i, attempt))
	}
	x.log(ctx, slog.LevelWarn, "step compensated", slog.String("step", x.sg.steps[i].name), slog.Int("attempts", attempt))
}

func (x *Execution[S]) compensationFailed(ctx context.Context, i, attempt int, err error) {
	if h := x.sg.hooks; h != nil && h.OnCompensationFailure != nil {
		h.OnCompensationFailure(ctx, x.step(i, attempt), err)
	}
	x.log(ctx, slog.LevelError, "compensation failed", slog.String("step", x.sg.steps[i].name),
		slog.Int("attempts", attempt), slog.Any("error", err))
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
	attrs := []slog.Attr{slog.String("status", x.rep.Status.String()), slog.Duration("took", x.rep.Duration())}
	if x.rep.Err != nil {
		attrs = append(attrs, slog.Any("error", x.rep.Err))
	}
	x.log(ctx, level, "saga ended", attrs...)
}

package saga

import (
	"context"
	"log/slog"
	"time"
)

// The run's observers: each calls the hook (if set) and logs (if a logger
// is set). Callers check sg.observed first, so an unobserved saga pays
// nothing.

func (r *run[S]) info() RunInfo { return RunInfo{Saga: r.sg.name, RunID: r.rep.RunID} }

func (r *run[S]) step(i, attempt int) StepInfo {
	return StepInfo{RunInfo: r.info(), Step: r.sg.steps[i].name, Index: i, Attempt: attempt}
}

func (r *run[S]) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if l := r.sg.logger; l != nil {
		attrs = append(attrs, slog.String("saga", r.sg.name), slog.String("run_id", r.rep.RunID))
		l.LogAttrs(ctx, level, msg, attrs...)
	}
}

func (r *run[S]) started(ctx context.Context) {
	if h := r.sg.hooks; h != nil && h.OnStart != nil {
		h.OnStart(ctx, r.info())
	}
	r.log(ctx, slog.LevelDebug, "saga started", slog.Int("steps", len(r.sg.steps)))
}

func (r *run[S]) stepStarted(ctx context.Context, i, attempt int) {
	if h := r.sg.hooks; h != nil && h.OnStepStart != nil {
		h.OnStepStart(ctx, r.step(i, attempt))
	}
	r.log(ctx, slog.LevelDebug, "step started", slog.String("step", r.sg.steps[i].name), slog.Int("attempt", attempt))
}

func (r *run[S]) stepSucceeded(ctx context.Context, i, attempt int, took time.Duration) {
	if h := r.sg.hooks; h != nil && h.OnStepSuccess != nil {
		h.OnStepSuccess(ctx, r.step(i, attempt), took)
	}
	r.log(ctx, slog.LevelDebug, "step succeeded", slog.String("step", r.sg.steps[i].name),
		slog.Int("attempt", attempt), slog.Duration("took", took))
}

func (r *run[S]) stepFailed(ctx context.Context, i, attempt int, err error) {
	if h := r.sg.hooks; h != nil && h.OnStepFailure != nil {
		h.OnStepFailure(ctx, r.step(i, attempt), err)
	}
	r.log(ctx, slog.LevelWarn, "step failed", slog.String("step", r.sg.steps[i].name),
		slog.Int("attempts", attempt), slog.Any("error", err))
}

func (r *run[S]) retrying(ctx context.Context, i, attempt int, err error, delay time.Duration, compensation bool) {
	h := r.sg.hooks
	msg := "step will retry"
	if compensation {
		msg = "compensation will retry"
		if h != nil && h.OnCompensationRetry != nil {
			h.OnCompensationRetry(ctx, r.step(i, attempt), err, delay)
		}
	} else if h != nil && h.OnStepRetry != nil {
		h.OnStepRetry(ctx, r.step(i, attempt), err, delay)
	}
	r.log(ctx, slog.LevelWarn, msg, slog.String("step", r.sg.steps[i].name),
		slog.Int("attempt", attempt), slog.Any("error", err), slog.Duration("delay", delay))
}

func (r *run[S]) compensationStarted(ctx context.Context, cause error) {
	if h := r.sg.hooks; h != nil && h.OnCompensationStart != nil {
		h.OnCompensationStart(ctx, r.info(), cause)
	}
	r.log(ctx, slog.LevelWarn, "compensation started", slog.Any("cause", cause))
}

func (r *run[S]) stepCompensated(ctx context.Context, i, attempt int) {
	if h := r.sg.hooks; h != nil && h.OnStepCompensated != nil {
		h.OnStepCompensated(ctx, r.step(i, attempt))
	}
	r.log(ctx, slog.LevelWarn, "step compensated", slog.String("step", r.sg.steps[i].name), slog.Int("attempts", attempt))
}

func (r *run[S]) compensationFailed(ctx context.Context, i, attempt int, err error) {
	if h := r.sg.hooks; h != nil && h.OnCompensationFailure != nil {
		h.OnCompensationFailure(ctx, r.step(i, attempt), err)
	}
	r.log(ctx, slog.LevelError, "compensation failed", slog.String("step", r.sg.steps[i].name),
		slog.Int("attempts", attempt), slog.Any("error", err))
}

func (r *run[S]) completed(ctx context.Context) {
	if h := r.sg.hooks; h != nil && h.OnComplete != nil {
		h.OnComplete(ctx, &r.rep)
	}
	level := slog.LevelInfo
	switch r.rep.Status {
	case StatusCompensated:
		level = slog.LevelWarn
	case StatusCompensationFailed, StatusFailed:
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("status", r.rep.Status.String()), slog.Duration("took", r.rep.Duration())}
	if r.rep.Err != nil {
		attrs = append(attrs, slog.Any("error", r.rep.Err))
	}
	r.log(ctx, level, "saga ended", attrs...)
}

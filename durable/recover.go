package durable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// Recover makes one pass over the journal: it claims the runs that need a
// worker (unfinished runs whose process died, and runs with an operator
// request) and drives each of them to its end, up to batch at a time. It
// returns how many runs it drove; the error joins the failures (a run of
// an unregistered saga, a changed definition) and each such run is
// released for others.
func (e *Engine) Recover(ctx context.Context, batch int) (int, error) {
	if batch <= 0 {
		batch = 16
	}
	runs, err := e.store.Claim(ctx, e.owner, e.ttl, batch)
	if err != nil {
		return 0, fmt.Errorf("durable: claim: %w", err)
	}
	errs := make([]error, len(runs))
	var g errgroup.Group
	for k, run := range runs {
		g.Go(func() error {
			_, err := e.driveClaimed(ctx, run)
			if outcome(err) {
				err = nil // the saga failed and the journal says so: a result, not a recovery error
			}
			errs[k] = err
			return nil
		})
	}
	g.Wait()
	return len(runs), errors.Join(errs...)
}

// Work recovers runs every interval until ctx ends: the loop of a
// long-running worker. Errors of single runs are logged, not returned.
func (e *Engine) Work(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := e.Recover(ctx, 0); err != nil {
			e.log(ctx, slog.LevelError, "recovery", slog.Int("runs", n), slog.Any("error", err))
		} else if n > 0 {
			e.log(ctx, slog.LevelInfo, "recovery", slog.Int("runs", n))
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

// driveClaimed drives a run this engine holds the lease of, then releases it.
func (e *Engine) driveClaimed(ctx context.Context, run journal.Run) (*saga.Report, error) {
	defer e.store.Release(context.WithoutCancel(ctx), run.ID, e.owner)
	def, ok := e.lookup(run.Saga)
	if !ok {
		return nil, fmt.Errorf("%w: run %s of saga %q", ErrUnknownSaga, run.ID, run.Saga)
	}
	run, entries, err := e.store.Load(ctx, run.ID)
	if err != nil {
		return nil, fmt.Errorf("durable: load run: %w", err)
	}
	e.log(ctx, slog.LevelInfo, "driving run", slog.String("run_id", run.ID), slog.String("saga", run.Saga),
		slog.String("status", string(run.Status)), slog.String("request", string(run.Request.Verb)))
	return def.drive(ctx, run, entries)
}

// outcome reports whether err is a saga's own failure, journaled as the
// run's outcome, rather than a failure to drive the run.
func outcome(err error) bool {
	var se *saga.Error
	return errors.As(err, &se) && !errors.Is(err, ErrJournal)
}

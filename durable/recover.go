package durable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// DefaultWorkInterval is how often [Engine.Work] looks for runs when it
// is given an interval of zero or less.
const DefaultWorkInterval = time.Second

// Recover makes one pass over the journal: it claims up to batch runs
// that need a worker (unfinished runs whose process stopped, and runs
// with an operator request; batch <= 0 means the engine's concurrency,
// see [WithConcurrency]) and drives them at once, each to its end or to a
// pause. It returns how many runs it claimed; the error joins the
// failures to drive one. A run this engine cannot drive (its saga is not
// registered, its definition changed, its snapshot cannot be decoded) is
// set aside with status [journal.Blocked] and the reason, so that it
// never stands in the way of other runs; its error is among those
// returned.
//
// When ctx ends, the runs stop at their next step boundary (a running
// step is not interrupted) and are left, their leases released, for
// another worker: nothing is compensated because a worker shuts down.
func (e *Engine) Recover(ctx context.Context, batch int) (int, error) {
	if batch <= 0 {
		batch = e.workers
	}
	granted := time.Now()
	runs, err := e.store.Claim(ctx, e.owner, e.ttl, batch)
	if err != nil {
		return 0, fmt.Errorf("durable: claim: %w", err)
	}
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for k, run := range runs {
		wg.Go(func() { errs[k] = e.recovered(ctx, claim{granted: granted, drain: ctx, token: run.LeaseToken}, run) })
	}
	wg.Wait()
	return len(runs), errors.Join(errs...)
}

// Work drives the runs that need a worker until ctx ends: the loop of a
// long-running worker. It claims runs as slots free up, at most the
// engine's concurrency (see [WithConcurrency]) at once, and looks for
// new ones every interval (<= 0: [DefaultWorkInterval]); one long run
// does not hold up the others. Errors of single runs are logged, not
// returned. When ctx ends, Work stops claiming, lets each run it drives
// stop at its next step boundary (leaving it, lease released, for
// another worker), waits for them, and returns ctx's cause.
func (e *Engine) Work(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultWorkInterval
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, e.workers)
	freed := make(chan struct{}, 1)
	var wakeups <-chan struct{} // nil, which never fires, unless the store can wake workers
	if w, ok := e.store.(journal.Waker); ok {
		wakeups = w.Wakeups(ctx)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n := cap(slots) - len(slots); n > 0 && ctx.Err() == nil {
			granted := time.Now()
			runs, err := e.store.Claim(ctx, e.owner, e.ttl, n)
			if err != nil && ctx.Err() == nil {
				e.log(ctx, slog.LevelError, "claim", slog.Any("error", err))
			}
			for _, run := range runs {
				slots <- struct{}{}
				wg.Go(func() {
					defer func() {
						<-slots
						select {
						case freed <- struct{}{}:
						default:
						}
					}()
					if err := e.recovered(ctx, claim{granted: granted, drain: ctx, token: run.LeaseToken}, run); err != nil {
						e.log(ctx, slog.LevelError, "run", slog.String("run_id", run.ID), slog.Any("error", err))
					}
				})
			}
			if len(runs) == n {
				continue // there may be more: claim again at once
			}
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		case <-freed:
		case <-e.kick:
		case <-wakeups:
		}
	}
}

// recovered drives a claimed run and returns the error of a failure to
// drive it: not the saga's own failure, which the journal records, nor a
// stop at a step boundary, nor a stale request refused on an ended run.
func (e *Engine) recovered(ctx context.Context, c claim, run journal.Run) error {
	_, err := e.driveClaimed(ctx, c, run.ID)
	if outcome(err) || errors.Is(err, ErrStopping) || errors.Is(err, journal.ErrFinal) {
		return nil
	}
	return err
}

// driveClaimed drives a run this engine leases, then releases it. A
// request that runs no code (resolve, abandon) is carried out without
// the run's definition; a run this engine cannot drive is set aside.
//
// The run's last write releases the lease, after the engine stopped
// counting the run as its own; when no last write succeeded, the lease
// is released after that too (see hold): the run is never free in the
// store while the engine still counts it as its own (its own Work would
// claim it and find it busy, leaving it leased and idle until the lease
// ran out).
func (e *Engine) driveClaimed(ctx context.Context, c claim, runID string) (*saga.Report, error) {
	h, err := e.begin(runID)
	if err != nil {
		return nil, err // driven here already: that driver keeps the lease
	}
	defer h.release(ctx)
	c.hold, h.token = h, c.token
	return e.driveHeld(ctx, c, runID)
}

// driveHeld is driveClaimed once the run is marked busy; the caller
// releases it. Its store calls do not end with ctx: once a run is
// claimed, what is decided about it is journaled; ctx's end stops the
// run at a step boundary (see drive).
func (e *Engine) driveHeld(ctx context.Context, c claim, runID string) (*saga.Report, error) {
	sctx := context.WithoutCancel(ctx)
	if c.drain != nil && c.drain.Err() != nil {
		return nil, ErrStopping
	}
	run, entries, err := e.store.Load(sctx, runID)
	if err != nil {
		return nil, fmt.Errorf("durable: load run: %w", err)
	}
	e.log(ctx, slog.LevelInfo, "driving run", slog.String("run_id", run.ID), slog.String("saga", run.Saga),
		slog.String("status", string(run.Status)), slog.String("request", string(run.Request.Verb)))
	if req := run.Request; req.Verb != "" {
		if run.Status.Final() {
			why := fmt.Errorf("%w: run %s %s", journal.ErrFinal, run.ID, run.Status.Phrase())
			return nil, errors.Join(why, e.last(sctx, c.hold, journal.Update{ClearRequest: true}, refusal(req, why)))
		}
		if req.Verb == journal.Resolve || req.Verb == journal.Abandon {
			return nil, e.settle(sctx, c.hold, run, req)
		}
	}
	def, ok := e.lookup(run.Saga)
	if !ok {
		return nil, e.setAside(sctx, c.hold, run, fmt.Errorf("%w: run %s of saga %q", ErrUnknownSaga, run.ID, run.Saga))
	}
	rep, err := def.drive(ctx, c, run, entries)
	var u undrivable
	if errors.As(err, &u) {
		return nil, e.setAside(sctx, c.hold, run, u.err)
	}
	return rep, err
}

// last makes the last write of a run driven here without a driver (and
// without a heartbeat), as driver.last does: it releases the lease, the
// engine's mark on the run ended first (see hold).
func (e *Engine) last(ctx context.Context, h *hold, u journal.Update, entries ...journal.Entry) error {
	u.Release, u.Lease = true, h.token
	h.end()
	if err := e.store.Append(ctx, h.runID, e.owner, u, entries...); err != nil {
		return err
	}
	h.freed.Store(true)
	return nil
}

// settle ends a run as resolved or abandoned by an operator: no saga code
// runs, so it needs no definition. The run keeps its error; the note is
// in the request's entries and the header's Note.
func (e *Engine) settle(ctx context.Context, h *hold, run journal.Run, req journal.Request) error {
	status := journal.Resolved
	if req.Verb == journal.Abandon {
		status = journal.Abandoned
	}
	now := time.Now()
	err := e.last(ctx, h, journal.Update{Status: status, Ended: true, ClearRequest: true},
		journal.Entry{Kind: journal.RequestCarriedOut, Verb: req.Verb, Step: req.Step, Note: req.Note, At: now},
		journal.Entry{Kind: journal.RunEnded, Status: status, Error: run.Error, Note: req.Note, At: now})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrJournal, err)
	}
	e.changed(run.ID, false)
	return nil
}

// setAside blocks a run this engine cannot drive, with why as its error,
// refusing its request if it has one, and returns why.
func (e *Engine) setAside(ctx context.Context, h *hold, run journal.Run, why error) error {
	msg := why.Error()
	u := journal.Update{Status: journal.Blocked, Error: &msg}
	var entries []journal.Entry
	if req := run.Request; req.Verb != "" {
		u.ClearRequest = true
		entries = append(entries, refusal(req, why))
	}
	before := run.Status
	if before == journal.Blocked {
		before = "" // keep the status it had when first set aside (see replay)
	}
	entries = append(entries, journal.Entry{Kind: journal.RunBlocked, Status: before, Error: msg, At: time.Now()})
	e.log(ctx, slog.LevelWarn, "run set aside", slog.String("run_id", run.ID), slog.Any("reason", why))
	if err := e.last(ctx, h, u, entries...); err != nil {
		return fmt.Errorf("%w (and it could not be set aside: %w)", why, err)
	}
	e.changed(run.ID, false)
	return why
}

// outcome reports whether err is a saga's own failure, journaled as the
// run's outcome, rather than a failure to drive the run.
func outcome(err error) bool {
	var se *saga.Error
	return errors.As(err, &se) && !errors.Is(err, ErrJournal) && !errors.Is(err, journal.ErrLeaseLost)
}

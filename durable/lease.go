package durable

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// claim is a run this engine leases: when the lease was granted, as the
// engine's clock saw it before it asked (so that the engine never thinks
// the lease lasts longer than the store does), and the context whose end
// asks the engine to stop driving the run at the next step boundary (nil
// for a run that stops only when its caller's context ends, as
// Definition.Run's do).
type claim struct {
	granted time.Time
	drain   context.Context
	token   int64 // the lease's fencing token (journal.Run.LeaseToken)
	hold    *hold // set once the engine marks the run as driven here
}

// heartbeat keeps the lease on runID, granted at granted, for as long as
// the run is driven: it renews it every third of the TTL. The returned
// context ends, with a cause that matches [journal.ErrLeaseLost], when
// the store says the lease is lost, or when the engine could not renew it
// by a tenth of the TTL before it expires: the engine gives the run up
// before another worker may take it, not after. stop ends the heartbeat;
// calling it again does nothing.
//
// hush stops the renewals, waiting for one in flight, and leaves the
// context to end as above, when the lease renewed last is about to end: a
// driver hushes its heartbeat before the write that releases the lease,
// so that no renewal follows the release (it would fail, and end the
// context as if the lease of a run that has stopped had been lost).
//
// live reports whether the lease still holds by the engine's own clock,
// and ends the context as the heartbeat would if it does not: a driver
// asks it just before it calls a step or a compensation, and the
// context's Err asks it too. The heartbeat
// is a goroutine; a process frozen past the lease and thawed may run the
// driver before it, and the driver must not act on the lease it lost
// meanwhile.
func (e *Engine) heartbeat(ctx context.Context, runID string, granted time.Time) (_ context.Context, stop, hush func(), live func() error) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	margin := e.ttl / 10
	var (
		mu     sync.Mutex // held by a renewal in flight
		hushed bool
		vmu    sync.Mutex           // guards valid
		valid  = granted.Add(e.ttl) // the lease lasts at least until then
	)
	expired := func() error {
		return fmt.Errorf("durable: run %s: lease not renewed before it ends: %w", runID, journal.ErrLeaseLost)
	}
	live = func() error {
		vmu.Lock()
		giveUp := valid.Add(-margin)
		vmu.Unlock()
		if time.Now().Before(giveUp) {
			return lost(ctx)
		}
		err := expired()
		cancel(err)
		return lost(ctx)
	}
	go func() {
		every := e.ttl / 3
		vmu.Lock()
		next := valid.Add(every - e.ttl)
		vmu.Unlock()
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			vmu.Lock()
			giveUp := valid.Add(-margin)
			vmu.Unlock()
			t.Reset(time.Until(earliest(next, giveUp)))
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !time.Now().Before(giveUp) {
				cancel(expired())
				return
			}
			mu.Lock()
			if hushed {
				mu.Unlock()
				next = giveUp
				continue
			}
			sent := time.Now()
			err := e.renewBy(ctx, runID, giveUp)
			mu.Unlock()
			switch {
			case err == nil:
				vmu.Lock()
				valid = sent.Add(e.ttl)
				vmu.Unlock()
				next = sent.Add(every)
			case errors.Is(err, journal.ErrLeaseLost):
				cancel(fmt.Errorf("durable: run %s: %w", runID, err))
				return
			default: // the store is unreachable: try again soon, until giveUp
				next = time.Now().Add(margin)
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); cancel(nil) }) }
	hush = func() {
		mu.Lock()
		hushed = true
		mu.Unlock()
	}
	return leaseContext{ctx, live}, stop, hush, live
}

// leaseContext is a heartbeat's context whose Err asks live first: code
// that checks the context before it acts, such as the saga runner before
// each attempt of a fenced run's step or compensation (saga's Fence),
// learns that the lease lapsed by the engine's own clock even when the
// heartbeat goroutine has not run since the process was thawed.
type leaseContext struct {
	context.Context
	live func() error
}

// Err implements [context.Context]: it ends the context, with the lease
// lost, once the lease has lapsed, then reports as the context does.
func (c leaseContext) Err() error {
	_ = c.live()
	return c.Context.Err()
}

// renewBy renews the lease on runID and returns the store's answer, or
// the context's error at giveUp if the store has not answered by then: a
// renewal the store has begun (a write waiting for another process's
// lock, a slow disk) may outlast its context, and must not hold the
// heartbeat past the time it gives the lease up. A late answer is
// dropped.
func (e *Engine) renewBy(ctx context.Context, runID string, giveUp time.Time) error {
	rctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), giveUp)
	defer cancel()
	answer := make(chan error, 1)
	go func() { answer <- e.store.Renew(rctx, runID, e.owner, e.ttl) }()
	select {
	case err := <-answer:
		return err
	case <-rctx.Done():
		return rctx.Err()
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// lost returns the reason ctx, a heartbeat's context, ended, if the lease
// was lost.
func lost(ctx context.Context) error {
	if err := context.Cause(ctx); errors.Is(err, journal.ErrLeaseLost) {
		return err
	}
	return nil
}

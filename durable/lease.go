package durable

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
// runs on a timer; a process frozen past the lease and thawed may run the
// driver before it, and the driver must not act on the lease it lost
// meanwhile.
func (e *Engine) heartbeat(ctx context.Context, runID string, granted time.Time) (_ context.Context, stop, hush func(), live func() error) {
	ctx, cancel := context.WithCancelCause(ctx)
	b := &beat{e: e, runID: runID, ctx: ctx, cancel: cancel, valid: granted.Add(e.ttl), next: granted.Add(e.ttl / 3)}
	b.mu.Lock()
	b.t = time.AfterFunc(time.Until(earliest(b.next, b.giveUp())), b.tick)
	b.mu.Unlock()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			b.stopped.Store(true)
			b.t.Stop()
			cancel(nil)
		})
	}
	return leaseContext{ctx, b.live}, stop, b.hush, b.live
}

// beat is a heartbeat's state. Its renewals run on a timer's goroutine
// (time.AfterFunc), one at a time: a run driven for less than a third of
// the TTL costs no goroutine of its own.
type beat struct {
	e       *Engine
	runID   string
	ctx     context.Context
	cancel  context.CancelCauseFunc
	stopped atomic.Bool

	mu     sync.Mutex // held by a tick: a renewal in flight
	t      *time.Timer
	hushed bool
	next   time.Time // when to renew next

	vmu   sync.Mutex // guards valid
	valid time.Time  // the lease lasts at least until then
}

// giveUp is when the engine gives the run up unless the lease was
// renewed: a tenth of the TTL before the lease renewed last ends.
func (b *beat) giveUp() time.Time {
	b.vmu.Lock()
	defer b.vmu.Unlock()
	return b.valid.Add(-b.e.ttl / 10)
}

func (b *beat) expired() error {
	return fmt.Errorf("durable: run %s: lease not renewed before it ends: %w", b.runID, journal.ErrLeaseLost)
}

// live reports whether the lease still holds by the engine's clock, and
// ends the context if it does not (see heartbeat).
func (b *beat) live() error {
	if time.Now().Before(b.giveUp()) {
		return lost(b.ctx)
	}
	b.cancel(b.expired())
	return lost(b.ctx)
}

// hush stops the renewals, waiting for one in flight (see heartbeat).
func (b *beat) hush() {
	b.mu.Lock()
	b.hushed = true
	b.mu.Unlock()
}

// tick is the timer's: it renews the lease, or ends the context when the
// time to give the run up has come, and sets the timer for the next
// renewal (or, hushed, for the give-up time).
func (b *beat) tick() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped.Load() || b.ctx.Err() != nil {
		return
	}
	giveUp := b.giveUp()
	if !time.Now().Before(giveUp) {
		b.cancel(b.expired())
		return
	}
	if b.hushed {
		b.next = giveUp
	} else {
		sent := time.Now()
		err := b.e.renewBy(b.ctx, b.runID, giveUp)
		switch {
		case err == nil:
			b.vmu.Lock()
			b.valid = sent.Add(b.e.ttl)
			b.vmu.Unlock()
			b.next = sent.Add(b.e.ttl / 3)
		case errors.Is(err, journal.ErrLeaseLost):
			b.cancel(fmt.Errorf("durable: run %s: %w", b.runID, err))
			return
		default: // the store is unreachable: try again soon, until giveUp
			b.next = time.Now().Add(b.e.ttl / 10)
		}
	}
	if b.stopped.Load() || b.ctx.Err() != nil {
		return // stopped meanwhile: a timer set now would only fire for nothing
	}
	b.t.Reset(time.Until(earliest(b.next, b.giveUp())))
}

// leaseContext is a heartbeat's context whose Err asks live first: code
// that checks the context before it acts, such as the saga runner before
// each attempt of a fenced run's step or compensation (saga's Fence),
// learns that the lease lapsed by the engine's own clock even when the
// heartbeat's timer has not fired since the process was thawed.
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

package durable

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// A driver asks live just before it calls a step: a lease granted longer
// ago than the TTL (less the margin) no longer holds, whatever the
// heartbeat's timer has seen, as when the process was frozen past the
// lease; asking ends the heartbeat's context with the lease lost.
func TestLiveRefusesALapsedLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = time.Second
		e := NewEngine(journal.NewMemory(), WithLeaseTTL(ttl))

		_, stop, _, live := e.heartbeat(context.Background(), "fresh", time.Now())
		if err := live(); err != nil {
			t.Fatalf("live on a lease granted now: %v", err)
		}
		stop()

		for _, ago := range []time.Duration{2 * ttl, ttl - ttl/10} {
			ctx, stop, _, live := e.heartbeat(context.Background(), "lapsed", time.Now().Add(-ago))
			err := live()
			if !errors.Is(err, journal.ErrLeaseLost) {
				t.Errorf("live on a lease granted %v ago: %v, want ErrLeaseLost", ago, err)
			}
			if !errors.Is(context.Cause(ctx), journal.ErrLeaseLost) {
				t.Errorf("the heartbeat's context after live refused a lease granted %v ago: %v", ago, context.Cause(ctx))
			}
			stop()
		}
	})
}

// The heartbeat's context reports a lapsed lease when asked, before the
// heartbeat's timer has fired: the saga runner asks it before each
// attempt of a step or a compensation.
func TestLeaseContextErrChecksTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = time.Second
		e := NewEngine(journal.NewMemory(), WithLeaseTTL(ttl))
		ctx, stop, _, _ := e.heartbeat(context.Background(), "lapsed", time.Now().Add(-2*ttl))
		defer stop()
		if err := ctx.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err on a lapsed lease: %v, want context.Canceled", err)
		}
		if !errors.Is(context.Cause(ctx), journal.ErrLeaseLost) {
			t.Fatalf("the cause: %v, want ErrLeaseLost", context.Cause(ctx))
		}

		ctx, stop, _, _ = e.heartbeat(context.Background(), "fresh", time.Now())
		defer stop()
		if err := ctx.Err(); err != nil {
			t.Fatalf("Err on a lease granted now: %v", err)
		}
	})
}

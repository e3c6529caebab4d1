package durable_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// unrenewable is a store whose Renew fails with err: an unreachable
// database (any error), or another worker holding the lease
// (journal.ErrLeaseLost).
type unrenewable struct {
	journal.Store
	err error
}

func (s unrenewable) Renew(context.Context, string, string, time.Duration) error { return s.err }

// A step that outlives the engine's lease: it waits for its context, or
// gives up after ten TTLs. It records when its context ended, and why.
type longStep struct {
	ended time.Time
	cause error
}

func (l *longStep) run(ctx context.Context, _ *Order) error {
	select {
	case <-ctx.Done():
		l.ended, l.cause = time.Now(), context.Cause(ctx)
		return ctx.Err()
	case <-time.After(10 * ttl):
		return nil // took effect, long after another worker may have taken the run
	}
}

// When the engine cannot renew its lease, the running step's context ends
// before the lease expires, with ErrLeaseLost as its cause; the run writes
// nothing more, and its error says the lease was lost. Another worker
// then carries the run on.
func TestLeaseNotRenewedStopsTheStep(t *testing.T) {
	for _, tc := range []struct {
		name   string
		renew  error
		before time.Duration // the step's context must end before this
	}{
		{"store unreachable", errors.New("connection refused"), ttl},    // before the lease expires
		{"lease taken", journal.ErrLeaseLost, ttl/3 + time.Millisecond}, // at the first heartbeat
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				store := journal.NewMemory()
				var c calls
				var long longStep
				sg := saga.New[Order]().Name("order").
					Step("reserve", func(context.Context, *Order) error { c.inc("reserve"); return nil },
						func(context.Context, *Order) error { c.inc("undo reserve"); return nil }).
					Step("ship", long.run, nil).
					Build()
				e := durable.NewEngine(unrenewable{store, tc.renew}, durable.WithOwner("stalled"), durable.WithLeaseTTL(ttl))
				d, _ := durable.Register(e, sg)
				start := time.Now()
				_, err := d.Run(saga.WithRunID(context.Background(), "run-1"), &Order{})
				is.True(errors.Is(err, journal.ErrLeaseLost)) // not just "context canceled"
				is.True(errors.Is(long.cause, journal.ErrLeaseLost))
				is.True(long.ended.Sub(start) < tc.before) // the step stopped before another worker could take the run
				_, entries, _ := store.Load(context.Background(), "run-1")
				last := entries[len(entries)-1]
				is.Equal(last.Kind, journal.StepStarted) // nothing written after ship started
				is.Equal(last.Step, "ship")
				is.Equal(c.get("undo reserve"), 0) // the stalled engine compensated nothing

				time.Sleep(ttl) // the lease expires
				worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
				_, _ = durable.Register(worker, saga.New[Order]().Name("order").
					Step("reserve", func(context.Context, *Order) error { return nil },
						func(context.Context, *Order) error { c.inc("undo reserve"); return nil }).
					Step("ship", func(context.Context, *Order) error { return nil }, nil).
					Build())
				n, err := worker.Recover(context.Background(), 0)
				is.NoErr(err)
				is.Equal(n, 1)
				run, _, _ := store.Load(context.Background(), "run-1")
				is.Equal(run.Status, journal.Compensated) // ship's outcome is unknown and it is not idempotent
				is.Equal(c.get("undo reserve"), 1)
			})
		})
	}
}

// A live engine keeps its lease: a step longer than the TTL is not cut.
func TestHeartbeatKeepsTheLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := journal.NewMemory()
		var long longStep
		sg := saga.New[Order]().Name("order").Step("ship", long.run, nil).Build()
		e := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
		d, _ := durable.Register(e, sg)
		_, err := d.Run(saga.WithRunID(context.Background(), "run-1"), &Order{})
		is.NoErr(err)
		is.True(long.cause == nil)
	})
}

// stuckRenew is a store whose Renew answers only after a long time,
// whatever its context says: a write the store has begun, which waits
// for another process's write lock or for a slow disk.
type stuckRenew struct{ journal.Store }

func (s stuckRenew) Renew(context.Context, string, string, time.Duration) error {
	time.Sleep(10 * ttl)
	return nil
}

// A renewal the store does not answer in time does not hold the
// heartbeat past its give-up time: the running step's context ends
// before the lease expires, with ErrLeaseLost as its cause, even though
// the renewal is still in flight.
func TestRenewalInFlightDoesNotHoldTheLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := journal.NewMemory()
		var long longStep
		sg := saga.New[Order]().Name("order").Step("ship", long.run, nil).Build()
		e := durable.NewEngine(stuckRenew{store}, durable.WithOwner("stalled"), durable.WithLeaseTTL(ttl))
		d, _ := durable.Register(e, sg)
		start := time.Now()
		_, err := d.Run(saga.WithRunID(context.Background(), "run-1"), &Order{})
		is.True(errors.Is(err, journal.ErrLeaseLost))
		is.True(errors.Is(long.cause, journal.ErrLeaseLost))
		is.True(long.ended.Sub(start) < ttl) // before another worker could take the run
		_, entries, _ := store.Load(context.Background(), "run-1")
		is.Equal(entries[len(entries)-1].Kind, journal.StepStarted) // nothing written after ship started
		time.Sleep(10 * ttl)                                        // let the stuck renewal return inside the bubble
	})
}

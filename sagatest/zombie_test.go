package sagatest_test

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
	"github.com/sagakit/sagakit/sagatest"
)

type payment struct{ Amount int }

// partitioned is a store the stalled worker can no longer renew on.
type partitioned struct{ journal.Store }

func (partitioned) Renew(context.Context, string, string, time.Duration) error {
	return errors.New("network partition")
}

// The window that remains: a worker loses its lease while its request to
// a service is on the wire; another worker compensates the run; the
// request arrives after the compensation. The tombstone keeps the late
// charge from taking effect.
func TestTombstoneStopsALateAction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		const ttl = 30 * time.Second
		var bank sagatest.Participant
		late := make(chan error, 1)
		sg := func(charge func(context.Context, *payment) error) *saga.Saga[payment] {
			return saga.New[payment]().Name("pay").
				Step("charge", charge, func(ctx context.Context, _ *payment) error {
					return bank.Undo(durable.IdempotencyKey(ctx))
				}).
				Build()
		}
		store := journal.NewMemory()
		stalled := durable.NewEngine(partitioned{store}, durable.WithOwner("stalled"), durable.WithLeaseTTL(ttl))
		d, _ := durable.Register(stalled, sg(func(ctx context.Context, _ *payment) error {
			key := durable.IdempotencyKey(ctx)
			go func() { // the request is on the wire: it arrives much later
				time.Sleep(3 * ttl)
				late <- bank.Do(key)
			}()
			<-ctx.Done() // the reply never comes before the lease is given up
			return ctx.Err()
		}))
		_, err := d.Run(saga.WithRunID(context.Background(), "pay-1"), &payment{Amount: 42})
		is.True(errors.Is(err, journal.ErrLeaseLost))

		// Another worker takes the run once the lease has expired.
		worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
		_, _ = durable.Register(worker, sg(func(context.Context, *payment) error { return nil }))
		is.Equal(sagatest.Recover(t, worker, nil), 1)
		run, _, _ := store.Load(context.Background(), "pay-1")
		is.Equal(run.Status, journal.Compensated) // charge's outcome was unknown
		is.Equal(bank.Status("pay-1/charge/1"), sagatest.Tombstoned)

		is.True(errors.Is(<-late, sagatest.ErrTombstoned)) // the late charge is refused
		is.Equal(bank.InEffect("pay-1/"), []string(nil))   // nothing left in place
		is.NoErr(bank.Err())
	})
}

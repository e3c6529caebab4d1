package durable_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// flakyRenewer counts Renew calls and fails the first failFirst of them
// with an error that is not ErrLeaseLost (a store briefly unreachable).
type flakyRenewer struct {
	journal.Store
	mu        sync.Mutex
	calls     int
	failFirst int
}

func (s *flakyRenewer) Renew(ctx context.Context, id, owner string, d time.Duration) error {
	s.mu.Lock()
	s.calls++
	fail := s.calls <= s.failFirst
	s.mu.Unlock()
	if fail {
		return errors.New("connection refused")
	}
	return s.Store.Renew(ctx, id, owner, d)
}

func (s *flakyRenewer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// WithLeaseTTL: a live engine renews its lease every third of the TTL
// while a step outlasts it, and the lease in the store stays ahead of
// the clock all along.
func TestLeaseRenewedEveryThirdOfTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := &flakyRenewer{Store: journal.NewMemory()}
		var behind []time.Duration
		sg := saga.New[Order]().Name("order").
			Step("ship", func(ctx context.Context, _ *Order) error {
				for range 20 { // 10 TTLs and a sixth, looking at the lease every half TTL
					time.Sleep(ttl / 2)
					run, _, err := store.Load(context.Background(), "run-1")
					if err != nil {
						return err
					}
					if left := time.Until(run.LeaseExpiry); left < ttl/2 {
						behind = append(behind, left)
					}
				}
				time.Sleep(ttl / 6)
				return ctx.Err()
			}, nil).
			Build()
		e := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
		d, _ := durable.Register(e, sg)
		_, err := d.Run(saga.WithRunID(context.Background(), "run-1"), &Order{})
		is.NoErr(err)
		is.Equal(store.count(), 30) // at every third of the TTL, for 10 TTLs
		is.Equal(len(behind), 0)    // the lease never came near its end
	})
}

// A store unreachable for a renewal or two, but back before the lease
// would end, does not cut the step: the engine tries again (every tenth
// of the TTL) until a tenth of the TTL before the lease expires.
func TestLeaseRenewalRetriedWhileStoreUnreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := &flakyRenewer{Store: journal.NewMemory(), failFirst: 5}
		var long longStep
		sg := saga.New[Order]().Name("order").Step("ship", long.run, nil).Build()
		e := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
		d, _ := durable.Register(e, sg)
		_, err := d.Run(saga.WithRunID(context.Background(), "run-1"), &Order{})
		is.NoErr(err)
		is.True(long.cause == nil) // not cut
		run, _, _ := store.Load(context.Background(), "run-1")
		is.Equal(run.Status, journal.Succeeded)
	})
}

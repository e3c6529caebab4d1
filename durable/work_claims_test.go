package durable_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// claimsStore records the limit of every Claim, and fails the first
// failures of them with errClaim.
type claimsStore struct {
	*journal.Memory
	mu       sync.Mutex
	limits   []int
	failures int
	stop     context.CancelFunc // called on a Claim of no run: Work would spin
}

var errClaim = errors.New("claim: connection reset")

func (s *claimsStore) Claim(ctx context.Context, owner string, ttl time.Duration, limit int) ([]journal.Run, error) {
	s.mu.Lock()
	s.limits = append(s.limits, limit)
	fail := s.failures > 0
	if fail {
		s.failures--
	}
	s.mu.Unlock()
	if limit < 1 && s.stop != nil {
		s.stop()
	}
	if fail {
		return nil, errClaim
	}
	return s.Memory.Claim(ctx, owner, ttl, limit)
}

func (s *claimsStore) claims() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.limits...)
}

// gatedOrder is a one-step saga whose step waits at g.
func gatedOrder(g *gate) *saga.Saga[Order] {
	return saga.New[Order]().Name("gated").
		Step("ship", func(ctx context.Context, _ *Order) error { return g.wait(ctx) }, nil).
		Build()
}

// leasedBy counts the runs of store whose lease owner is owner.
func leasedBy(t *testing.T, store journal.Store, owner string) int {
	t.Helper()
	runs, err := store.List(context.Background(), journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range runs {
		if r.LeaseOwner == owner {
			n++
		}
	}
	return n
}

// Work claims only as many runs as it has room to drive
// (WithConcurrency): the others stay free for other workers, and a worker
// whose every slot is busy asks for none until one frees.
func TestWorkClaimsOnlyWhatItCanDrive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		store := &claimsStore{Memory: journal.NewMemory(), stop: cancel}
		g := newGate()
		worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl), durable.WithConcurrency(2))
		d, err := durable.Register(worker, gatedOrder(g))
		is.NoErr(err)
		for range 5 {
			_, err := d.Start(context.Background(), &Order{})
			is.NoErr(err)
		}
		worked := make(chan error, 1)
		go func() { worked <- worker.Work(ctx, time.Second) }()

		<-g.entered
		<-g.entered
		time.Sleep(3 * time.Second) // three polls with every slot busy
		synctest.Wait()
		is.Equal(leasedBy(t, store, "worker"), 2) // the other three stay free
		for _, limit := range store.claims() {
			is.True(limit >= 1 && limit <= 2) // never more than the free slots, never none
		}

		g.release()
		time.Sleep(time.Second)
		synctest.Wait()
		runs, err := store.List(context.Background(), journal.Filter{})
		is.NoErr(err)
		is.Equal(len(runs), 5)
		for _, r := range runs {
			is.Equal(r.Status, journal.Succeeded)
		}
		for _, limit := range store.claims() {
			is.True(limit >= 1 && limit <= 2)
		}
		cancel()
		is.True(errors.Is(<-worked, context.Canceled))
	})
}

// A Claim that fails is logged, with its error, and Work goes on: its
// next poll claims the run. A Claim that succeeds logs nothing.
func TestWorkLogsAFailedClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var logs syncLog
		store := &claimsStore{Memory: journal.NewMemory(), failures: 1}
		worker := durable.NewEngine(store, durable.WithLeaseTTL(ttl),
			durable.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		d, err := durable.Register(worker, orderSaga(&calls{}))
		is.NoErr(err)
		id, err := d.Start(context.Background(), &Order{})
		is.NoErr(err)
		ctx, cancel := context.WithCancel(context.Background())
		worked := make(chan error, 1)
		go func() { worked <- worker.Work(ctx, time.Second) }()

		time.Sleep(2 * time.Second)
		synctest.Wait()
		is.Equal(mustLoad(t, store, id).Status, journal.Succeeded)
		cancel()
		is.True(errors.Is(<-worked, context.Canceled))
		is.True(len(store.claims()) >= 2)                      // the failed claim, then the poll's
		is.Equal(strings.Count(logs.String(), "msg=claim"), 1) // once, for the failure
		is.True(strings.Contains(logs.String(), errClaim.Error()))
		is.Equal(strings.Count(logs.String(), "level=ERROR"), 1) // the run, driven, is not an error
	})
}

package durable_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

// reclaimBefore is a store whose first Append carrying entries for step
// reaches it only after the run's lease lapsed and its own owner claimed
// the run again: a driver's write that waited (for a lock, a slow disk)
// while the engine's Work took the run back.
type reclaimBefore struct {
	*journal.Memory
	clk  *sagatest.Clock
	step string
	done atomic.Bool
}

func (s *reclaimBefore) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	for _, e := range entries {
		if e.Step == s.step && !s.done.Swap(true) {
			s.clk.Advance(2 * ttl)                   // the lease lapses...
			runs, err := s.Claim(ctx, owner, ttl, 1) // ...and its owner claims the run again
			if err != nil || len(runs) != 1 {
				return errors.Join(errors.New("test: the re-claim failed"), err)
			}
			break
		}
	}
	return s.Memory.Append(ctx, runID, owner, u, entries...)
}

// A driver's write that reaches the store after the run was granted
// again, even to its own engine, is refused: the lease is fenced by its
// token, not by the owner's name alone. The driver stops there, writing
// nothing more, and the run is left to its new lease.
func TestStaleWriteAfterReclaimBySameOwnerRefused(t *testing.T) {
	ctx := context.Background()
	var clk sagatest.Clock
	mem := journal.NewMemory(journal.WithClock(clk.Now))
	store := &reclaimBefore{Memory: mem, clk: &clk, step: "charge"}
	e := durable.NewEngine(store, durable.WithOwner("w1"), durable.WithLeaseTTL(ttl))
	var c calls
	d, err := durable.Register(e, orderSaga(&c))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Run(saga.WithRunID(ctx, "run-1"), &Order{})
	if !errors.Is(err, journal.ErrLeaseLost) {
		t.Fatalf("Run: %v, want an error matching journal.ErrLeaseLost", err)
	}
	run, entries, err := mem.Load(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Step == "charge" || e.Kind == journal.RunEnded {
			t.Errorf("entry %d (%s %s) written after the run was claimed again", e.Seq, e.Kind, e.Step)
		}
	}
	if run.LeaseOwner != "w1" || run.LeaseToken != 2 || run.Status != journal.Running {
		t.Errorf("run %s, leased to %q with token %d; want running, the new lease (token 2) left alone",
			run.Status, run.LeaseOwner, run.LeaseToken)
	}
	if n := c.get("charge"); n != 0 {
		t.Errorf("charge ran %d times after its start was refused", n)
	}
}

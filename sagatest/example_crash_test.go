package sagatest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

type order struct{}

// A process dies after charging the card, before the charge's end is
// journaled. The next process finds the run with charge's outcome
// unknown; charge is not idempotent, so the run is compensated, charge
// included, each step under the key of its execution.
func ExampleCrashingStore() {
	var (
		clk  sagatest.Clock
		bank sagatest.Participant
	)
	store := journal.NewMemory(journal.WithClock(clk.Now))
	do := func(ctx context.Context, _ *order) error { return bank.Do(durable.IdempotencyKey(ctx)) }
	undo := func(ctx context.Context, _ *order) error { return bank.Undo(durable.IdempotencyKey(ctx)) }
	sg := saga.New[order]().Name("order").
		Step("hold", do, undo).
		Step("charge", do, undo).
		Step("ship", do, nil).
		Build()

	crash := sagatest.NewCrashingStore(store).CrashBefore(journal.StepSucceeded, "charge")
	dying := durable.NewEngine(crash, durable.WithOwner("dying"))
	def, _ := durable.Register(dying, sg)
	_, err := def.Run(saga.WithRunID(context.Background(), "o-1"), &order{})
	fmt.Println(errors.Is(err, sagatest.ErrCrashed), bank.InEffect("o-1/"))

	// The next process, once the dead one's lease has expired (in a
	// test, sagatest.Recover(t, next, &clk) waits and recovers).
	next := durable.NewEngine(store, durable.WithOwner("next"))
	_, _ = durable.Register(next, sg)
	clk.Advance(time.Minute)
	n, _ := next.Recover(context.Background(), 0)
	run, _, _ := store.Load(context.Background(), "o-1")
	fmt.Println(n, run.Status, bank.InEffect("o-1/"))
	// Output:
	// true [o-1/charge/1 o-1/hold/1]
	// 1 compensated []
}

package durable_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// WithLeaseTTL: MinLeaseTTL is accepted and anything below it (but above
// zero) panics; zero or less means the default, 30 s, which the run's
// lease then lasts (granted, here, on the engine's clock at creation).
func TestLeaseTTLBounds(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	_ = durable.NewEngine(store, durable.WithLeaseTTL(durable.MinLeaseTTL))
	func() {
		defer func() { is.True(recover() != nil) }() // below the minimum
		_ = durable.NewEngine(store, durable.WithLeaseTTL(durable.MinLeaseTTL-1))
	}()

	for _, d := range []time.Duration{0, -time.Second} {
		clk := newClock()
		store := journal.NewMemory(journal.WithClock(clk.now))
		e := durable.NewEngine(store, durable.WithLeaseTTL(d))
		var expiry time.Time
		def, err := durable.Register(e, saga.New[Order]().Name("order").
			Step("ship", func(ctx context.Context, _ *Order) error {
				run, _, err := store.Load(ctx, "run-t")
				expiry = run.LeaseExpiry
				return err
			}, nil).
			Build())
		is.NoErr(err)
		_, err = def.Run(saga.WithRunID(context.Background(), "run-t"), &Order{})
		is.NoErr(err)
		left := expiry.Sub(clk.now()) // the store's clock stands still; the engine's moves a little
		is.True(left > 29*time.Second && left <= 31*time.Second)
	}
}

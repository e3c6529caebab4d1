package durable_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

// An operator-driven run past its pivot: Compensate is refused (nothing
// may be undone once the pivot succeeded) and leaves the run as it was;
// Resume carries it forward from the failed step, running nothing before
// it again.
func TestOperatorPastPivot(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	store := journal.NewMemory()
	var c calls
	var broken atomic.Bool
	broken.Store(true)
	errCourier := errors.New("courier down")
	step := func(name string) func(context.Context, *Order) error {
		return func(context.Context, *Order) error { c.inc(name); return nil }
	}
	sg := saga.New[Order]().Name("order").
		Step("reserve", step("reserve"), step("undo reserve")).
		Step("charge", step("charge"), step("refund"), saga.Pivot()).
		Step("ship", func(context.Context, *Order) error {
			c.inc("ship")
			if broken.Load() {
				return retry.Permanent(errCourier)
			}
			return nil
		}, nil, saga.Retriable()).
		Build()
	e := durable.NewEngine(store)
	d, err := durable.Register(e, sg)
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(ctx, "o-p"), &Order{})
	is.True(errors.Is(err, errCourier))
	is.Equal(mustLoad(t, store, "o-p").Status, journal.Failed) // past the pivot: not compensated

	_, err = e.Compensate(ctx, "o-p", "undo it all")
	is.True(errors.Is(err, durable.ErrPastPivot))
	is.Equal(mustLoad(t, store, "o-p").Status, journal.Failed)
	is.Equal(c.get("undo reserve"), 0)
	is.Equal(c.get("refund"), 0)

	broken.Store(false)
	_, err = e.Resume(ctx, "o-p", "courier back")
	is.NoErr(err)
	is.Equal(mustLoad(t, store, "o-p").Status, journal.Succeeded)
	is.Equal(c.get("reserve"), 1)
	is.Equal(c.get("charge"), 1)
	is.Equal(c.get("ship"), 2)
}

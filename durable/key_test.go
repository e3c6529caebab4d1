package durable_test

import (
	"context"
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// A compensation sees the idempotency key of the execution it undoes:
// the key a participant needs for a tombstone.
func TestCompensationKnowsTheKey(t *testing.T) {
	is := is.New(t)
	e := durable.NewEngine(journal.NewMemory())
	var did, undid []string
	sg := saga.New[Order]().Name("order").
		Step("charge", func(ctx context.Context, _ *Order) error {
			did = append(did, durable.IdempotencyKey(ctx))
			return nil
		}, func(ctx context.Context, _ *Order) error {
			undid = append(undid, durable.IdempotencyKey(ctx))
			return nil
		}).
		Step("ship", func(context.Context, *Order) error { return errShip }, nil).
		Build()
	d, _ := durable.Register(e, sg)
	_, err := d.Run(saga.WithRunID(context.Background(), "run-k"), &Order{})
	is.True(errors.Is(err, errShip))
	is.Equal(did, []string{"run-k/charge/1"})
	is.Equal(undid, did)
}

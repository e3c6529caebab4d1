package sagatest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

// A test of a durable saga against stand-ins for its services: the steps
// pass their idempotency keys on, and the test checks that the failed
// run left nothing in effect.
func ExampleParticipant() {
	var warehouse, bank sagatest.Participant
	call := func(p *sagatest.Participant) func(context.Context, *struct{}) error {
		return func(ctx context.Context, _ *struct{}) error { return p.Do(durable.IdempotencyKey(ctx)) }
	}
	undo := func(p *sagatest.Participant) func(context.Context, *struct{}) error {
		return func(ctx context.Context, _ *struct{}) error { return p.Undo(durable.IdempotencyKey(ctx)) }
	}
	sg := saga.New[struct{}]().Name("order").
		Step("reserve", call(&warehouse), undo(&warehouse)).
		Step("charge", call(&bank), undo(&bank)).
		Step("ship", func(context.Context, *struct{}) error { return errors.New("no courier") }, nil).
		Build()
	def, _ := durable.Register(durable.NewEngine(journal.NewMemory()), sg)
	rep, _ := def.Run(saga.WithRunID(context.Background(), "order-7"), &struct{}{})

	fmt.Println(rep.Status)
	fmt.Println(warehouse.Status("order-7/reserve/1"), bank.Status("order-7/charge/1"))
	fmt.Println(len(warehouse.InEffect("order-7/"))+len(bank.InEffect("order-7/")), "effects left")
	// Output:
	// compensated
	// undone undone
	// 0 effects left
}

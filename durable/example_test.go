package durable_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// A run pauses at its failure; after the cause is fixed, Resume carries it
// on from the failed step.
func ExamplePauseOnFailure() {
	store := journal.NewMemory() // journal/sqlite keeps runs on disk
	engine := durable.NewEngine(store)

	warehouseOpen := false
	type Order struct{ Reserved, Shipped bool }
	sg := saga.New[Order]().Name("order").
		Step("reserve", func(_ context.Context, o *Order) error { o.Reserved = true; return nil }, nil).
		Step("ship", func(_ context.Context, o *Order) error {
			if !warehouseOpen {
				return errors.New("warehouse closed")
			}
			o.Shipped = true
			return nil
		}, nil).
		Build()
	def, _ := durable.Register(engine, sg, durable.PauseOnFailure())

	ctx := saga.WithRunID(context.Background(), "order-7")
	rep, err := def.Run(ctx, &Order{})
	fmt.Println(rep.Status, err != nil)

	view, _ := durable.Inspect(context.Background(), store, "order-7")
	fmt.Println(view.Run.Status, view.Run.Error)

	warehouseOpen = true // a person fixes the cause
	rep, err = engine.Resume(context.Background(), "order-7", "warehouse reopened")
	fmt.Println(rep.Status, err)
	// Output:
	// paused true
	// paused saga "order": step "ship" failed: warehouse closed (paused)
	// succeeded <nil>
}

package durable_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// A service starts a run for whichever worker is free, and waits for its
// outcome. The run ID is the client's request ID, so a retried request
// does not place a second order.
func ExampleDefinition_Start() {
	store := journal.NewMemory() // a store the fleet shares: journal/sqlite, PostgreSQL
	engine := durable.NewEngine(store)
	type Order struct{ Charged, Shipped bool }
	def, _ := durable.Register(engine, saga.New[Order]().Name("order").
		Step("charge", func(_ context.Context, o *Order) error { o.Charged = true; return nil }, nil).
		Step("ship", func(_ context.Context, o *Order) error { o.Shipped = true; return nil }, nil).
		Build())

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go engine.Work(ctx, time.Second) // a worker; any replica may run one

	req := saga.WithRunID(context.Background(), "req-7f3a")
	id, _ := def.Start(req, &Order{})
	again, _ := def.Start(req, &Order{}) // the client retried
	rep, err := engine.Wait(context.Background(), id)
	fmt.Println(id == again, rep.Status, err)
	// Output:
	// true succeeded <nil>
}

// Command order is sagakit's first example, a port of saga-framework's:
// place an order, then charge the payment. The card is declined, so the
// order is cancelled again and the caller learns exactly what went wrong.
//
// It shows the whole life of a saga:
//
//  1. the state (Order) that steps share, like saga-framework's Context;
//  2. steps written as types with Execute and Compensate, like its Tasks;
//  3. a logger injected with WithLogger, like its SagaLogger;
//  4. a custom error type (*PaymentDeclinedError) that comes back from Run
//     intact, next to *saga.Error, which names the step that failed;
//  5. the report of the run.
//
// Run it with `make example` or `go run ./examples/order`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/sagakit/sagakit/saga"
)

// Order is the saga's state. Every step gets a pointer to the same Order:
// a step writes into it what later steps (or its own compensation) need.
type Order struct {
	Customer string
	Item     string
	Cents    int64  // the price
	Card     string // last four digits

	OrderID   string // set by CreateOrderTask
	PaymentID string // set by ChargePaymentTask
}

// PaymentDeclinedError is the payment provider's refusal. It is an error
// type of our own: the saga hands it back to the caller unchanged.
type PaymentDeclinedError struct {
	Card   string
	Reason string
}

func (e *PaymentDeclinedError) Error() string {
	return fmt.Sprintf("card ending %s declined: %s", e.Card, e.Reason)
}

// CreateOrderTask creates the order; its compensation cancels it.
type CreateOrderTask struct{ w io.Writer }

// Execute creates the order and records its ID in the state.
func (t CreateOrderTask) Execute(_ context.Context, o *Order) error {
	o.OrderID = "ord-1001"
	fmt.Fprintf(t.w, "Order created: %s, %s for %s.\n", o.OrderID, o.Item, o.Customer)
	return nil
}

// Compensate cancels the order.
func (t CreateOrderTask) Compensate(_ context.Context, o *Order) error {
	fmt.Fprintf(t.w, "Order creation compensated: %s cancelled.\n", o.OrderID)
	return nil
}

// ChargePaymentTask charges the customer's card; its compensation refunds.
type ChargePaymentTask struct{ w io.Writer }

// Execute asks for the payment, which is declined.
func (t ChargePaymentTask) Execute(_ context.Context, o *Order) error {
	fmt.Fprintf(t.w, "Charging %s to card ending %s...\n", euros(o.Cents), o.Card)
	return &PaymentDeclinedError{Card: o.Card, Reason: "insufficient funds"}
}

// Compensate refunds the payment. It does not run here: a step whose own
// action failed is not compensated, as there is nothing to refund.
func (t ChargePaymentTask) Compensate(_ context.Context, o *Order) error {
	fmt.Fprintf(t.w, "Payment refunded: %s.\n", o.PaymentID)
	return nil
}

// shipOrder ships the order: a step written as a plain function. Shipping
// is the last step, so nothing after it could fail and require undoing it;
// here it never runs.
func shipOrder(w io.Writer) func(context.Context, *Order) error {
	return func(_ context.Context, o *Order) error {
		fmt.Fprintf(w, "Order %s shipped.\n", o.OrderID)
		return nil
	}
}

func euros(cents int64) string { return fmt.Sprintf("%d.%02d EUR", cents/100, cents%100) }

// placeOrder defines the saga once; it can then be run many times, even
// concurrently, each run with its own Order.
func placeOrder(w io.Writer, logger *slog.Logger) *saga.Saga[Order] {
	return saga.New[Order]().
		Name("place_order").
		Add("create_order", CreateOrderTask{w}).
		Add("charge_payment", ChargePaymentTask{w}).
		Step("ship_order", shipOrder(w), nil). // a plain function, nothing to undo
		WithLogger(logger).
		Build()
}

func run(w io.Writer) error {
	// The injected logger. Dropping the time keeps the output the same on
	// every run; a real program would keep it.
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == "took") {
				return slog.Attr{}
			}
			return a
		},
	}))

	order := Order{Customer: "alice", Item: "1 x The Go Programming Language", Cents: 4490, Card: "4242"}
	fmt.Fprintf(w, "== Placing an order for %s: %s, %s\n\n", order.Customer, order.Item, euros(order.Cents))

	// WithRunID ties the run to an ID of ours; without it Run makes one up.
	ctx := saga.WithRunID(context.Background(), "order-1001")
	rep, err := placeOrder(w, logger).Run(ctx, &order)

	fmt.Fprintln(w, "\n== What went wrong")
	if err == nil {
		return errors.New("the payment should have been declined")
	}
	fmt.Fprintf(w, "Saga failed: %v\n", err)

	// The step's own error comes back intact: errors.As finds our type.
	var declined *PaymentDeclinedError
	if !errors.As(err, &declined) {
		return fmt.Errorf("unexpected error: %w", err)
	}
	fmt.Fprintf(w, "Payment declined: reason %q, card ending %s\n", declined.Reason, declined.Card)

	// *saga.Error says which step failed and how the saga ended.
	var sagaErr *saga.Error
	if !errors.As(err, &sagaErr) {
		return fmt.Errorf("unexpected error: %w", err)
	}
	fmt.Fprintf(w, "Failed step: %s\n", sagaErr.Step)
	fmt.Fprintf(w, "Saga status: %s (every completed step was undone)\n", sagaErr.Status)

	fmt.Fprintf(w, "\n== The report\n%s", rep)
	return nil
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "order:", err)
		os.Exit(1)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/internal/exampletest"
	"github.com/sagakit/sagakit/saga"
)

func TestRun(t *testing.T) {
	is := is.New(t)
	var buf bytes.Buffer
	is.NoErr(run(&buf))
	out := buf.String()

	exampletest.InOrder(t, out,
		`level=DEBUG msg="saga started" steps=3 saga=place_order run_id=order-1001`,
		"Order created: ord-1001, 1 x The Go Programming Language for alice.",
		"Charging 44.90 EUR to card ending 4242...",
		`level=WARN msg="step failed" step=charge_payment attempts=1 error="card ending 4242 declined: insufficient funds"`,
		"Order creation compensated: ord-1001 cancelled.",
		`level=WARN msg="saga ended" status=compensated`,
		`Saga failed: saga "place_order": step "charge_payment" failed: card ending 4242 declined: insufficient funds (compensated)`,
		`Payment declined: reason "insufficient funds", card ending 4242`,
		"Failed step: charge_payment",
		"Saga status: compensated",
		`saga "place_order" run order-1001 compensated in`,
	)
	is.True(!strings.Contains(out, "Payment refunded")) // the failed step is not compensated
	is.True(!strings.Contains(out, "shipped"))          // nor does the saga go on
	is.True(!strings.Contains(out, "time="))            // the log is stable

	is.Equal(exampletest.Row(t, out, "create_order")[:3], []string{"create_order", "compensated", "1"})
	is.Equal(exampletest.Row(t, out, "charge_payment")[:3], []string{"charge_payment", "failed", "1"})
	is.Equal(exampletest.Row(t, out, "ship_order")[:3], []string{"ship_order", "pending", "0"})
}

func TestPlaceOrderErrors(t *testing.T) {
	is := is.New(t)
	o := Order{Card: "0000"}
	rep, err := placeOrder(io.Discard, slog.New(slog.DiscardHandler)).Run(context.Background(), &o)

	var declined *PaymentDeclinedError
	is.True(errors.As(err, &declined)) // the custom error comes back
	is.Equal(*declined, PaymentDeclinedError{Card: "0000", Reason: "insufficient funds"})

	var sagaErr *saga.Error
	is.True(errors.As(err, &sagaErr))
	is.Equal(sagaErr.Step, "charge_payment")
	is.Equal(sagaErr.Status, saga.StatusCompensated)
	is.Equal(rep.Status, saga.StatusCompensated)
	is.Equal(o.OrderID, "ord-1001") // the state carries what steps wrote
}

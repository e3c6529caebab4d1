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
	"github.com/sagakit/sagakit/saga"
)

func TestRun(t *testing.T) {
	is := is.New(t)
	var buf bytes.Buffer
	is.NoErr(run(&buf))
	out := buf.String()

	inOrder(t, out,
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

	is.Equal(row(t, out, "create_order")[:3], []string{"create_order", "compensated", "1"})
	is.Equal(row(t, out, "charge_payment")[:3], []string{"charge_payment", "failed", "1"})
	is.Equal(row(t, out, "ship_order")[:3], []string{"ship_order", "pending", "0"})
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

// inOrder fails unless out contains each of lines, in that order.
func inOrder(t *testing.T, out string, lines ...string) {
	t.Helper()
	rest := out
	for _, l := range lines {
		i := strings.Index(rest, l)
		if i < 0 {
			t.Fatalf("missing, or out of order: %q\noutput:\n%s", l, out)
		}
		rest = rest[i+len(l):]
	}
}

// row returns the fields of the report table's row for step.
func row(t *testing.T, out, step string) []string {
	t.Helper()
	_, table, ok := strings.Cut(out, "\nSTEP ")
	if !ok {
		t.Fatalf("no report table in:\n%s", out)
	}
	for l := range strings.Lines(table) {
		if f := strings.Fields(l); len(f) > 0 && f[0] == step {
			return f
		}
	}
	t.Fatalf("no row for step %q in:\n%s", step, out)
	return nil
}

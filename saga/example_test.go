package saga_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

type Order struct {
	Items     int
	Reserved  bool
	PaymentID string
}

var errDeclined = errors.New("card declined")

// A three-step order: the payment is declined, so the reservation is
// released and the error says which step failed and why.
func Example() {
	sg := saga.New[Order]().Name("order").
		Step("reserve",
			func(_ context.Context, o *Order) error {
				o.Reserved = true
				fmt.Println("reserved", o.Items)
				return nil
			},
			func(_ context.Context, o *Order) error { o.Reserved = false; fmt.Println("released"); return nil }).
		Step("charge",
			func(context.Context, *Order) error { fmt.Println("charging"); return errDeclined },
			func(context.Context, *Order) error { fmt.Println("refunding"); return nil }).
		Step("ship", func(context.Context, *Order) error { fmt.Println("shipping"); return nil }, nil).
		Build()

	order := Order{Items: 3}
	rep, err := sg.Run(context.Background(), &order)

	var se *saga.Error
	if errors.As(err, &se) {
		fmt.Printf("step %q failed: %v\n", se.Step, errors.Is(err, errDeclined))
	}
	fmt.Println(rep.Status, order.Reserved)
	// Output:
	// reserved 3
	// charging
	// released
	// step "charge" failed: true
	// compensated false
}

// A compensation that fails is reported, never silent: the run ends in
// StatusCompensationFailed and the error matches ErrCompensationFailed.
func ExampleErrCompensationFailed() {
	errRefund := errors.New("refund service down")
	sg := saga.New[Order]().
		WithCompensationRetry(retry.Policy{}). // one attempt, for the example
		Step("charge",
			func(context.Context, *Order) error { return nil },
			func(context.Context, *Order) error { return errRefund }).
		Step("ship", func(context.Context, *Order) error { return errors.New("no courier") }, nil).
		Build()

	rep, err := sg.Run(context.Background(), &Order{})
	fmt.Println(rep.Status)
	fmt.Println(errors.Is(err, saga.ErrCompensationFailed), errors.Is(err, errRefund))
	// Output:
	// compensation_failed
	// true true
}

// pysagas' counter: the add raises after changing the counter, so the
// failed step opts in to its own compensation.
func ExampleCompensateIfFailed() {
	counter := [2]int{10, 20}
	add := func(i int, fail bool) func(context.Context, *[2]int) error {
		return func(_ context.Context, c *[2]int) error {
			c[i] += 30
			if fail {
				return errors.New("error occurred")
			}
			return nil
		}
	}
	sub := func(i int) func(context.Context, *[2]int) error {
		return func(_ context.Context, c *[2]int) error { c[i] -= 30; return nil }
	}
	sg := saga.New[[2]int]().
		Step("first", add(0, false), sub(0)).
		Step("second", add(1, true), sub(1), saga.CompensateIfFailed()).
		Build()
	_, err := sg.Run(context.Background(), &counter)
	fmt.Println(counter, err != nil)
	// Output: [10 20] true
}

// Steps can be types with Execute and Compensate, as in talepy.
func ExampleBuilder_Add() {
	sg := saga.New[Order]().
		Add("debit", debit{}).
		Step("book", func(context.Context, *Order) error { return errors.New("hotel full") }, nil).
		Build()
	o := Order{}
	_, err := sg.Run(context.Background(), &o)
	fmt.Println(err)
	fmt.Printf("payment %q\n", o.PaymentID)
	// Output:
	// saga: step "book" failed: hotel full (compensated)
	// payment ""
}

type debit struct{}

func (debit) Execute(_ context.Context, o *Order) error    { o.PaymentID = "pay_1"; return nil }
func (debit) Compensate(_ context.Context, o *Order) error { o.PaymentID = ""; return nil }

package parallel_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sagakit/sagakit/parallel"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/state"
)

type Trip struct {
	Paid   bool
	Booked state.Cell[[]string] // written by concurrent steps
}

// Flight, hotel and car are booked at the same time after the payment;
// the car is not available, so the others are cancelled and the payment
// refunded, the payment last.
func ExampleRun() {
	book := func(what string, err error) func(context.Context, *Trip) error {
		return func(_ context.Context, t *Trip) error {
			if err != nil {
				return err
			}
			t.Booked.Update(func(b []string) []string { return append(b, what) })
			return nil
		}
	}
	cancel := func(what string) func(context.Context, *Trip) error {
		return func(_ context.Context, t *Trip) error {
			t.Booked.Update(func(b []string) []string {
				out := b[:0]
				for _, x := range b {
					if x != what {
						out = append(out, x)
					}
				}
				return out
			})
			return nil
		}
	}
	errNoCar := errors.New("no car available")
	sg := saga.New[Trip]().Name("trip").
		Step("debit",
			func(_ context.Context, t *Trip) error { t.Paid = true; return nil },
			func(_ context.Context, t *Trip) error { t.Paid = false; return nil }).
		Step("flight", book("flight", nil), cancel("flight"), saga.After("debit")).
		Step("hotel", book("hotel", nil), cancel("hotel"), saga.After("debit")).
		Step("car", book("car", errNoCar), cancel("car"), saga.After("debit")).
		Build()

	var trip Trip
	rep, err := parallel.Run(context.Background(), sg, &trip)
	fmt.Println(errors.Is(err, errNoCar), rep.Status)
	fmt.Println(trip.Paid, len(trip.Booked.Get()))
	// Output:
	// true compensated
	// false 0
}

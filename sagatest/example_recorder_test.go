package sagatest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

type trip struct{ Flight, Hotel, Car string }

// A failure injected at a step: the recorder shows what ran, and that the
// steps before it were undone in reverse.
func ExampleRecorder() {
	var rec sagatest.Recorder[trip]
	book := func(context.Context, *trip) error { return nil }
	sg := saga.New[trip]().Name("trip").
		Step("flight", rec.Action("flight", book), rec.Compensation("flight", book)).
		Step("hotel", rec.Action("hotel", book), rec.Compensation("hotel", book)).
		Step("car", rec.Action("car", book), rec.Compensation("car", book)).
		Build()

	rec.FailAt("car", errors.New("no cars left"))
	rep, _ := sg.Run(context.Background(), &trip{})

	fmt.Println(rep.Status)
	for _, c := range rec.Calls() { // in a test: rec.AssertCompensated(t, sg, rep.RunID)
		fmt.Println(c)
	}
	// Output:
	// compensated
	// flight
	// hotel
	// car: no cars left
	// undo hotel
	// undo flight
}

// A panic, and a compensation that fails: the run needs a person.
func ExampleRecorder_FailCompensationAt() {
	var rec sagatest.Recorder[trip]
	book := func(context.Context, *trip) error { return nil }
	sg := saga.New[trip]().Name("trip").
		Step("flight", rec.Action("flight", book), rec.Compensation("flight", book),
			saga.CompensationRetry(retry.Policy{MaxAttempts: 1})).
		Step("hotel", rec.Action("hotel", book), rec.Compensation("hotel", book)).
		Build()

	rec.PanicAt("hotel", "out of memory")
	rec.FailCompensationAt("flight", errors.New("airline offline"))
	rep, err := sg.Run(context.Background(), &trip{})

	fmt.Println(rep.Status, errors.Is(err, saga.ErrCompensationFailed))
	for _, c := range rec.Calls() {
		fmt.Println(c)
	}
	// Output:
	// compensation_failed true
	// flight
	// hotel: panic: out of memory
	// undo flight: airline offline
}

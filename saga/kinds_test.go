package saga_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

// flaky fails n times, then succeeds.
func flaky(name string, n int) func(context.Context, *trip) error {
	return func(_ context.Context, t *trip) error {
		t.add("do " + name)
		if n > 0 {
			n--
			return errBoom
		}
		return nil
	}
}

// Rule 9: after the pivot succeeds, retriable steps are retried forward
// until they succeed and nothing is compensated.
func TestPivotThenRetriableRetriesForward(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		sg := saga.New[trip]().
			Step("reserve", do("reserve", nil), undo("reserve", nil)).
			Step("charge", do("charge", nil), undo("charge", nil), saga.Pivot()).
			Step("ship", flaky("ship", 4), nil, saga.Retriable()).
			Build()
		var st trip
		rep, err := sg.Run(context.Background(), &st)
		is.NoErr(err)
		is.Equal(rep.Status, saga.StatusSucceeded)
		ship, _ := rep.Step("ship")
		is.Equal(ship.Attempts, 5)
		is.Equal(st.events(), []string{"do reserve", "do charge", "do ship", "do ship", "do ship", "do ship", "do ship"})
	})
}

// Rule 9: a failing pivot compensates the steps before it.
func TestPivotFailureCompensates(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().
		Step("reserve", do("reserve", nil), undo("reserve", nil)).
		Step("charge", do("charge", errBoom), undo("charge", nil), saga.Pivot()).
		Step("ship", do("ship", nil), nil, saga.Retriable()).
		Build()
	var st trip
	rep, err := sg.Run(context.Background(), &st)
	is.True(errors.Is(err, errBoom))
	is.Equal(rep.Status, saga.StatusCompensated)
	is.Equal(st.events(), []string{"do reserve", "do charge", "undo reserve"})
}

// Rule 9: past the pivot, a retriable step that gives up leaves the saga
// failed, not compensated.
func TestPastPivotNoCompensation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		sg := saga.New[trip]().
			Step("reserve", do("reserve", nil), undo("reserve", nil)).
			Step("charge", do("charge", nil), undo("charge", nil), saga.Pivot()).
			Step("ship", flaky("ship", 10), nil, saga.Retriable(),
				saga.Retry(retry.Policy{MaxAttempts: 3, InitialInterval: time.Second})).
			Build()
		var st trip
		rep, err := sg.Run(context.Background(), &st)
		is.True(errors.Is(err, errBoom))
		var se *saga.Error
		is.True(errors.As(err, &se))
		is.Equal(se.Step, "ship")
		is.Equal(rep.Status, saga.StatusFailed)
		is.Equal(st.events(), []string{"do reserve", "do charge", "do ship", "do ship", "do ship"})
		c, _ := rep.Step("charge")
		is.Equal(c.Status, saga.StepSucceeded)
	})
}

// Past the pivot, cancellation stops forward retries without compensating.
func TestPastPivotCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sg := saga.New[trip]().
			Step("charge", do("charge", nil), undo("charge", nil), saga.Pivot()).
			Step("ship", flaky("ship", 1<<30), nil, saga.Retriable()).
			Build()
		var st trip
		rep, err := sg.Run(ctx, &st)
		is.True(errors.Is(err, context.DeadlineExceeded))
		is.Equal(rep.Status, saga.StatusFailed)
		ship, _ := rep.Step("ship")
		is.True(ship.Attempts > 3) // kept retrying until the deadline
	})
}

// A retriable step before the pivot is never compensated, but a failure
// later still compensates the others.
func TestRetriableNeverCompensated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		sg := saga.New[trip]().
			Step("a", do("a", nil), undo("a", nil)).
			Step("audit", flaky("audit", 1), nil, saga.Retriable()).
			Step("c", do("c", errBoom), nil).
			Build()
		var st trip
		rep, err := sg.Run(context.Background(), &st)
		is.True(errors.Is(err, errBoom))
		is.Equal(st.events(), []string{"do a", "do audit", "do audit", "do c", "undo a"})
		a, _ := rep.Step("audit")
		is.Equal(a.Status, saga.StepNotCompensated)
	})
}

// How a step's error wraps when its retries give up: after one attempt,
// the attempt's own error; after several, the *retry.Error; errors.Is
// reaches the action's error either way (see Retry's documentation).
func TestRetryErrorWrapping(t *testing.T) {
	synctest.Test(t, testRetryErrorWrapping)
}

func testRetryErrorWrapping(t *testing.T) {
	is := is.New(t)
	errCard := errors.New("card declined")
	run := func(fail func(int) error) (saga.StepReport, error) {
		n := 0
		sg := saga.New[struct{}]().
			Step("charge", func(context.Context, *struct{}) error { n++; return fail(n) }, nil,
				saga.Retry(retry.Policy{MaxAttempts: 3})).
			Build()
		rep, err := sg.Run(context.Background(), &struct{}{})
		s, _ := rep.Step("charge")
		return s, err
	}
	s, err := run(func(int) error { return retry.Permanent(errCard) })
	is.True(errors.Is(err, errCard))
	var re *retry.Error
	is.True(!errors.As(err, &re)) // one attempt: the attempt's error itself
	is.Equal(s.Attempts, 1)

	s, err = run(func(int) error { return errCard })
	is.True(errors.Is(err, errCard))
	is.True(errors.As(err, &re)) // several: the retry's error
	is.Equal(re.Reason, retry.Exhausted)
	is.Equal(s.Attempts, 3)
}

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

var once = retry.Policy{} // one attempt

// Rule 4: one failed compensation does not stop the others; the saga ends
// in a distinct status; every failure is reachable from the error.
func TestCompensationFailureDoesNotStopOthers(t *testing.T) {
	is := is.New(t)
	errRefund := errors.New("refund failed")
	errRelease := errors.New("release failed")
	sg := saga.New[trip]().
		WithCompensationRetry(once).
		Step("reserve", do("reserve", nil), undo("reserve", errRelease)).
		Step("charge", do("charge", nil), undo("charge", errRefund)).
		Step("notify", do("notify", nil), undo("notify", nil)).
		Step("ship", do("ship", errBoom), nil).
		Build()
	var st trip
	rep, err := sg.Run(context.Background(), &st)
	is.Equal(st.events(), []string{"do reserve", "do charge", "do notify", "do ship",
		"undo notify", "undo charge", "undo reserve"})
	is.True(errors.Is(err, errBoom))
	is.True(errors.Is(err, errRefund))
	is.True(errors.Is(err, errRelease))
	is.True(errors.Is(err, saga.ErrCompensationFailed))
	var se *saga.Error
	is.True(errors.As(err, &se))
	is.Equal(se.Step, "ship")
	is.Equal(se.Status, saga.StatusCompensationFailed)
	is.Equal(len(se.Compensation), 2)
	var ce *saga.CompensationError
	is.True(errors.As(se.Compensation[0], &ce))
	is.Equal(ce.Step, "charge") // in the order they ran
	is.Equal(rep.Status, saga.StatusCompensationFailed)
	for name, want := range map[string]saga.StepStatus{
		"reserve": saga.StepCompensationFailed, "charge": saga.StepCompensationFailed,
		"notify": saga.StepCompensated, "ship": saga.StepFailed,
	} {
		s, _ := rep.Step(name)
		is.Equal(s.Status, want)
	}
	c, _ := rep.Step("charge")
	is.True(errors.Is(c.Compensation.Err, errRefund))
}

// Rule 4: compensations run on a context detached from the caller's
// cancellation, but keep its values.
func TestCompensationContextDetached(t *testing.T) {
	is := is.New(t)
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	var compErr error
	var compVal any
	var compRunID string
	sg := saga.New[trip]().
		Step("a", do("a", nil), func(ctx context.Context, _ *trip) error {
			compErr, compVal, compRunID = ctx.Err(), ctx.Value(key{}), saga.RunID(ctx)
			return nil
		}).
		Step("b", func(ctx context.Context, _ *trip) error { cancel(); return ctx.Err() }, nil).
		Build()
	rep, err := sg.Run(ctx, &trip{})
	is.True(errors.Is(err, context.Canceled))
	is.NoErr(compErr) // not cancelled
	is.Equal(compVal, "v")
	is.Equal(compRunID, rep.RunID)
	is.Equal(rep.Status, saga.StatusCompensated)
}

// Rule 4: each compensation has its own timeout and retry policy.
func TestCompensationTimeoutAndRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		attempts := 0
		sg := saga.New[trip]().
			Step("a", do("a", nil), func(ctx context.Context, _ *trip) error {
				attempts++
				if attempts < 3 {
					<-ctx.Done() // hangs until its attempt times out
					return ctx.Err()
				}
				return nil
			}, saga.CompensationTimeout(time.Second),
				saga.CompensationRetry(retry.Policy{MaxAttempts: 3, InitialInterval: time.Second})).
			Step("b", do("b", errBoom), nil).
			Build()
		start := time.Now()
		rep, err := sg.Run(context.Background(), &trip{})
		is.True(errors.Is(err, errBoom))
		is.Equal(rep.Status, saga.StatusCompensated)
		is.Equal(attempts, 3)
		a, _ := rep.Step("a")
		is.Equal(a.Compensation.Attempts, 3)
		// two timed-out attempts of 1s, waits of 1s and 2s between attempts
		is.Equal(time.Since(start), 5*time.Second)
	})
}

// Compensations are more persistent than actions by default.
func TestDefaultCompensationRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		calls := 0
		sg := saga.New[trip]().
			Step("a", do("a", nil), func(context.Context, *trip) error { calls++; return errBoom }).
			Step("b", do("b", errBoom), nil).
			Build()
		rep, err := sg.Run(context.Background(), &trip{})
		is.True(errors.Is(err, saga.ErrCompensationFailed))
		is.Equal(calls, saga.DefaultCompensationRetry.MaxAttempts)
		is.Equal(rep.Status, saga.StatusCompensationFailed)
	})
}

// A saga-wide compensation timeout applies to compensations without their own.
func TestSagaCompensationTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		sg := saga.New[trip]().
			WithCompensationTimeout(time.Minute).
			WithCompensationRetry(once).
			Step("a", do("a", nil), func(ctx context.Context, _ *trip) error { <-ctx.Done(); return ctx.Err() }).
			Step("b", do("b", errBoom), nil).
			Build()
		start := time.Now()
		_, err := sg.Run(context.Background(), &trip{})
		is.True(errors.Is(err, saga.ErrCompensationFailed))
		is.True(errors.Is(err, context.DeadlineExceeded))
		is.Equal(time.Since(start), time.Minute)
	})
}

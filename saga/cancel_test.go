package saga_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/saga"
)

// sleepy returns an action that waits d or until its context ends.
func sleepy(name string, d time.Duration) func(context.Context, *trip) error {
	return func(ctx context.Context, t *trip) error {
		t.add("do " + name)
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// Rule 5: the caller cancels mid-step: the running step sees its context
// end, no new step starts, completed steps are compensated.
func TestCallerCancelMidStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(1500*time.Millisecond, cancel)
		sg := saga.New[trip]().
			Step("a", sleepy("a", time.Second), undo("a", nil)).
			Step("b", sleepy("b", time.Second), undo("b", nil)).
			Step("c", sleepy("c", time.Second), undo("c", nil)).
			Build()
		var st trip
		rep, err := sg.Run(ctx, &st)
		is.True(errors.Is(err, context.Canceled))
		var se *saga.Error
		is.True(errors.As(err, &se))
		is.Equal(se.Step, "b")
		is.Equal(st.events(), []string{"do a", "do b", "undo a"})
		is.Equal(rep.Status, saga.StatusCompensated)
		c, _ := rep.Step("c")
		is.Equal(c.Status, saga.StepPending)
	})
}

// Rule 5: cancelled between steps (the step finished despite the cancel):
// no new step starts and every completed step is compensated.
func TestCallerCancelBetweenSteps(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	sg := saga.New[trip]().
		Step("a", do("a", nil), undo("a", nil)).
		Step("b", func(_ context.Context, t *trip) error { t.add("do b"); cancel(); return nil }, undo("b", nil)).
		Step("c", do("c", nil), undo("c", nil)).
		Build()
	var st trip
	rep, err := sg.Run(ctx, &st)
	is.True(errors.Is(err, context.Canceled))
	var se *saga.Error
	is.True(errors.As(err, &se))
	is.Equal(se.Step, "") // stopped between steps
	is.Equal(st.events(), []string{"do a", "do b", "undo b", "undo a"})
	is.Equal(rep.Status, saga.StatusCompensated)
}

func TestAlreadyCancelledRunsNothing(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var st trip
	rep, err := saga.New[trip]().Step("a", do("a", nil), undo("a", nil)).Build().Run(ctx, &st)
	is.True(errors.Is(err, context.Canceled))
	is.Equal(len(st.events()), 0)
	is.Equal(rep.Status, saga.StatusCompensated) // nothing to undo
}

// Rule 5: the saga's own deadline.
func TestSagaTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		sg := saga.New[trip]().
			WithTimeout(1500*time.Millisecond).
			Step("a", sleepy("a", time.Second), undo("a", nil)).
			Step("b", sleepy("b", time.Second), undo("b", nil)).
			Build()
		var st trip
		start := time.Now()
		rep, err := sg.Run(context.Background(), &st)
		is.True(errors.Is(err, saga.ErrDeadline))
		is.Equal(time.Since(start), 1500*time.Millisecond)
		is.Equal(st.events(), []string{"do a", "do b", "undo a"})
		is.Equal(rep.Status, saga.StatusCompensated)
	})
}

// Rule 5: a reserve of time for compensation: forward work stops early.
func TestCompensationReserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var compDeadlineLeft time.Duration
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sg := saga.New[trip]().
			WithCompensationReserve(3*time.Second).
			Step("a", sleepy("a", time.Second), func(ctx context.Context, _ *trip) error {
				compDeadlineLeft = time.Until(mustDeadline(ctx))
				return nil
			}).
			Step("b", sleepy("b", time.Hour), undo("b", nil)).
			Build()
		start := time.Now()
		rep, err := sg.Run(ctx, &trip{})
		is.True(errors.Is(err, saga.ErrDeadline))
		is.True(errors.Is(err, context.DeadlineExceeded))
		is.Equal(time.Since(start), 7*time.Second)    // forward work ended 3s before the caller's deadline
		is.Equal(compDeadlineLeft, time.Duration(-1)) // compensations are detached: no deadline
		is.Equal(rep.Status, saga.StatusCompensated)
	})
}

func mustDeadline(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(-1)
	}
	return d
}

package saga_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

// Rule 7: a per-step timeout bounds one attempt.
func TestStepTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		sg := saga.New[trip]().
			Step("a", do("a", nil), undo("a", nil)).
			Step("slow", sleepy("slow", time.Hour), undo("slow", nil), saga.Timeout(2*time.Second)).
			Build()
		var st trip
		start := time.Now()
		rep, err := sg.Run(context.Background(), &st)
		is.Equal(time.Since(start), 2*time.Second)
		is.True(errors.Is(err, context.DeadlineExceeded))
		is.True(strings.Contains(err.Error(), "timed out after 2s"))
		is.Equal(st.events(), []string{"do a", "do slow", "undo a"}) // the timed-out step is not compensated
		is.Equal(rep.Status, saga.StatusCompensated)
		s, _ := rep.Step("slow")
		is.Equal(s.Status, saga.StepFailed)
		is.Equal(s.Duration(), 2*time.Second)
	})
}

// Rule 2 with rule 7: a timed-out action may have taken effect, so it opts
// in to its own compensation.
func TestTimedOutStepCompensatedWhenOptedIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		sg := saga.New[trip]().
			Step("a", do("a", nil), undo("a", nil)).
			Step("slow", sleepy("slow", time.Hour), undo("slow", nil),
				saga.Timeout(time.Second), saga.CompensateIfFailed()).
			Build()
		var st trip
		_, err := sg.Run(context.Background(), &st)
		is.True(errors.Is(err, context.DeadlineExceeded))
		is.Equal(st.events(), []string{"do a", "do slow", "undo slow", "undo a"})
	})
}

// Rule 7: with retries, the timeout bounds each attempt, not the whole.
func TestTimeoutBoundsEachAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		calls := 0
		sg := saga.New[trip]().
			Step("slow", func(ctx context.Context, _ *trip) error {
				calls++
				if calls < 3 {
					<-ctx.Done()
					return ctx.Err()
				}
				return nil
			}, nil, saga.Timeout(time.Second), saga.Retry(retry.Policy{MaxAttempts: 3, InitialInterval: -1})).
			Build()
		start := time.Now()
		rep, err := sg.Run(context.Background(), &trip{})
		is.NoErr(err)
		is.Equal(calls, 3)
		is.Equal(time.Since(start), 2*time.Second) // two attempts timed out after 1s each
		is.Equal(rep.Steps[0].Attempts, 3)
	})
}

// A step that finishes despite its timeout passing has succeeded.
func TestStepIgnoringTimeoutSucceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		sg := saga.New[trip]().
			Step("stubborn", func(context.Context, *trip) error { time.Sleep(2 * time.Second); return nil }, nil,
				saga.Timeout(time.Second)).
			Build()
		rep, err := sg.Run(context.Background(), &trip{})
		is.NoErr(err)
		is.Equal(rep.Steps[0].Duration(), 2*time.Second)
	})
}

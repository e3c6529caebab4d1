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

// WithCompensationReserve: forward work ends the reserve before the
// saga's deadline, which is its timeout or the caller's context deadline,
// whichever comes first.
func TestReserveBeforeEarlierDeadline(t *testing.T) {
	for _, tc := range []struct {
		name            string
		timeout, caller time.Duration // 0: none
		want            time.Duration // when forward work ends
	}{
		{"caller earlier than timeout", 10 * time.Second, 5 * time.Second, 2 * time.Second},
		{"timeout earlier than caller", 5 * time.Second, 10 * time.Second, 2 * time.Second},
		{"timeout only", 5 * time.Second, 0, 2 * time.Second},
		{"caller only", 0, 5 * time.Second, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				ctx := context.Background()
				if tc.caller > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.caller)
					defer cancel()
				}
				var stepDeadline time.Duration
				b := saga.New[trip]().WithCompensationReserve(3*time.Second).
					Step("a", do("a", nil), undo("a", nil)).
					Step("b", func(ctx context.Context, st *trip) error {
						stepDeadline = time.Until(mustDeadline(ctx))
						<-ctx.Done()
						return context.Cause(ctx)
					}, undo("b", nil))
				if tc.timeout > 0 {
					b.WithTimeout(tc.timeout)
				}
				var st trip
				start := time.Now()
				rep, err := b.Build().Run(ctx, &st)
				is.Equal(time.Since(start), tc.want) // the reserve kept before the earlier deadline
				is.Equal(stepDeadline, tc.want)      // the step's context carries that deadline
				is.True(errors.Is(err, saga.ErrDeadline))
				is.True(errors.Is(err, context.DeadlineExceeded))
				is.Equal(st.events(), []string{"do a", "undo a"})
				is.Equal(rep.Status, saga.StatusCompensated)
			})
		})
	}
}

// Without a reserve, the caller's deadline is the caller's own: the run
// stops when it passes, with the caller's error, not the saga's.
func TestCallerDeadlineWithoutReserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sg := saga.New[trip]().WithTimeout(10*time.Second).
			Step("a", do("a", nil), undo("a", nil)).
			Step("b", sleepy("b", time.Hour), undo("b", nil)).
			Build()
		var st trip
		start := time.Now()
		rep, err := sg.Run(ctx, &st)
		is.Equal(time.Since(start), 5*time.Second)
		is.True(errors.Is(err, context.DeadlineExceeded))
		is.True(!errors.Is(err, saga.ErrDeadline)) // the caller's deadline, not the saga's
		is.Equal(rep.Status, saga.StatusCompensated)
	})
}

package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
)

// fakeClock advances its time by exactly the waits asked for, at once.
type fakeClock struct {
	now   time.Time
	waits []time.Duration
	err   error // returned by Sleep when set
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if c.err != nil {
		return c.err
	}
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

var _ retry.Clock = (*fakeClock)(nil)

func TestFakeClock(t *testing.T) {
	is := is.New(t)
	clk := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := retry.Policy{MaxAttempts: 5, InitialInterval: time.Hour, MaxInterval: 3 * time.Hour, Clock: clk}
	err := retry.Do(context.Background(), p, func(context.Context) error { return errBoom })
	re := asError(t, err)
	want := []time.Duration{1 * time.Hour, 2 * time.Hour, 3 * time.Hour, 3 * time.Hour}
	if diff := cmp.Diff(want, clk.waits); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	is.Equal(re.Elapsed, 9*time.Hour)
	is.Equal(re.Reason, retry.Exhausted)
}

func TestFakeClockMaxElapsed(t *testing.T) {
	is := is.New(t)
	clk := &fakeClock{}
	p := retry.Policy{MaxAttempts: retry.Unlimited, InitialInterval: time.Second, MaxElapsed: 10 * time.Second, Clock: clk}
	re := asError(t, retry.Do(context.Background(), p, func(context.Context) error { return errBoom }))
	is.Equal(clk.waits, []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 3 * time.Second})
	is.Equal(re.Reason, retry.Deadline)
	is.Equal(re.Attempts, 5)
}

func TestClockSleepErrorStops(t *testing.T) {
	is := is.New(t)
	stop := errors.New("clock stopped")
	clk := &fakeClock{err: stop}
	err := retry.Do(context.Background(), retry.Policy{MaxAttempts: 3, Clock: clk}, func(context.Context) error { return errBoom })
	re := asError(t, err)
	is.Equal(re.Reason, retry.Canceled)
	is.Equal(re.Attempts, 1)
	is.Equal(re.Context, stop)
	is.True(errors.Is(err, errBoom))
}

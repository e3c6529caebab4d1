package retry

import (
	"context"
	"time"
)

// Clock is the source of time for [Do]: it reads the time to measure
// [Policy.MaxElapsed] and [Error.Elapsed], and it waits between attempts.
// A nil [Policy.Clock] means the real clock. Tests rarely need a Clock of
// their own: the real clock runs on fake time inside a testing/synctest
// bubble. A Clock is useful to drive retries from some other notion of
// time, or to observe the waits; a fake can simply advance its time by d
// in Sleep and return at once.
type Clock interface {
	// Now returns the current time. Do only subtracts the results of
	// Now from each other.
	Now() time.Time

	// Sleep waits for d or until ctx is done, whichever comes first. It
	// returns nil after a full wait and a non-nil error, normally
	// context.Cause(ctx), when it was stopped early; Do then gives up
	// with [Canceled].
	Sleep(ctx context.Context, d time.Duration) error
}

// sleeper waits on the real clock, reusing one timer across the waits of a
// call of Do. Its zero value is ready to use.
type sleeper struct {
	t *time.Timer
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	if ctx.Done() == nil {
		// Nothing can interrupt the wait: sleep without a timer of our own.
		time.Sleep(d)
		return nil
	}
	if s.t == nil {
		s.t = time.NewTimer(d)
	} else {
		s.t.Reset(d) // the timer is stopped or fired and drained: see below
	}
	select {
	case <-s.t.C:
		return nil
	case <-ctx.Done():
		s.t.Stop() // since Go 1.23 no stale value remains in s.t.C
		return context.Cause(ctx)
	}
}

package retry

import (
	"math"
	"math/rand/v2"
	"time"
)

// Delay returns the wait before attempt attempt+1 after attempt attempt
// (counted from 1) failed. prev is the previous result of Delay, 0 before
// the first (Do passes it before the RetryAfter and MaxElapsed adjustments);
// only [DecorrelatedJitter] uses it. r is the random
// source for jitter; nil means the package-level source of math/rand/v2
// (Delay ignores [Policy.Rand] so that callers choose explicitly).
//
// Delay is a pure function of its arguments and the policy's
// InitialInterval, Multiplier, MaxInterval, Jitter and JitterFactor: it
// does not consult MaxAttempts, MaxElapsed or the clock, and does not
// apply an error's RetryAfter floor. A runner that persists the attempt
// count (and, for DecorrelatedJitter, the last wait) can therefore resume
// the schedule after a crash.
//
// The result is never negative and never exceeds the policy's MaxInterval;
// it is 0 when InitialInterval is negative. An attempt below 1 is read as 1.
func (p Policy) Delay(attempt int, prev time.Duration, r *rand.Rand) time.Duration {
	init := p.initialInterval()
	if init < 0 {
		return 0
	}
	maxI := p.maxInterval()
	if init > maxI {
		init = maxI
	}
	attempt = max(attempt, 1)

	var d float64
	if p.Jitter == DecorrelatedJitter {
		prev = max(prev, init)
		d = uniform(r, float64(init), 3*float64(prev))
	} else {
		base := float64(init) * math.Pow(p.multiplier(), float64(attempt-1))
		base = min(base, float64(maxI)) // also maps +Inf; NaN cannot occur
		switch p.Jitter {
		case FullJitter:
			d = uniform(r, 0, base)
		case EqualJitter:
			d = base/2 + uniform(r, 0, base/2)
		case FactorJitter:
			f := p.jitterFactor()
			d = uniform(r, base*(1-f), base*(1+f))
		default:
			d = base
		}
	}
	switch {
	case !(d < float64(maxI)): // also guards the float→int conversion
		return maxI
	case d <= 0:
		return 0
	}
	return time.Duration(d)
}

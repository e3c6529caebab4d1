package saga

import (
	"time"

	"github.com/sagakit/sagakit/retry"
)

// DefaultCompensationRetry is the retry policy of compensations that have
// none of their own (see [CompensationRetry] and
// [Builder.WithCompensationRetry]). Compensations are more persistent than
// actions, which try once by default: three attempts, 50ms then 100ms
// apart (with full jitter). When they are spent the saga ends in
// [StatusCompensationFailed], never silently.
var DefaultCompensationRetry = retry.Policy{
	MaxAttempts:     3,
	InitialInterval: 50 * time.Millisecond,
	Multiplier:      2,
	MaxInterval:     5 * time.Second,
	Jitter:          retry.FullJitter,
}

// DefaultForwardRetry is the retry policy of [Retriable] steps that have
// none of their own: attempts without limit, from 100ms growing to 30s
// apart, until the step succeeds or the saga's context ends.
var DefaultForwardRetry = retry.Policy{
	MaxAttempts:     retry.Unlimited,
	InitialInterval: 100 * time.Millisecond,
	Multiplier:      2,
	MaxInterval:     30 * time.Second,
	Jitter:          retry.FullJitter,
}

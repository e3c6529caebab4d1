package journal

import "time"

// An Option configures a store made by this package ([NewMemory]).
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithClock makes a store read the current time from now instead of
// [time.Now]. Stores take "now" for Created and Updated, for entries
// without a time, and for leases: a test that controls now controls
// lease expiry without sleeping. A nil now means time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

func buildOptions(opts []Option) options {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o
}

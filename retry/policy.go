package retry

import (
	"math"
	"math/rand/v2"
	"time"
)

// Unlimited is the canonical value of [Policy.MaxAttempts] for "no count
// limit". Any negative MaxAttempts means the same.
const Unlimited = -1

// Defaults used when the corresponding [Policy] field is zero.
const (
	// DefaultInitialInterval is the wait before the second attempt when
	// [Policy.InitialInterval] is zero.
	DefaultInitialInterval = 100 * time.Millisecond

	// DefaultMaxInterval caps one wait when [Policy.MaxInterval] is zero.
	DefaultMaxInterval = 30 * time.Second

	// DefaultMultiplier is the growth per attempt when [Policy.Multiplier]
	// is zero or NaN.
	DefaultMultiplier = 2.0

	// DefaultJitterFactor is the spread of [FactorJitter] when
	// [Policy.JitterFactor] is zero, negative or NaN.
	DefaultJitterFactor = 0.5
)

// Policy says how often and how patiently [Do] retries a failing function.
//
// A Policy is a plain value: copy it freely and share it between goroutines.
// Its zero value runs the function exactly once and never retries. Every
// field documents its own default; values that make no sense (a NaN
// Multiplier, a negative JitterFactor, …) are read as that default, so a
// Policy never causes a panic at run time.
//
// The only shared mutable parts are what the pointer fields point to:
// Hooks functions may be called from many goroutines at once, and a non-nil
// Rand is not safe for concurrent use, so a Policy with Rand set must not be
// used by concurrent calls.
type Policy struct {
	// MaxAttempts is the total number of attempts, the first included.
	// 0 and 1 both mean one attempt (no retry). A negative value, canonically
	// [Unlimited], means no count limit: only MaxElapsed, the context or the
	// error's classification stop the retries.
	MaxAttempts int

	// InitialInterval is the wait before the second attempt, the base that
	// Multiplier grows. 0 means [DefaultInitialInterval]; a negative value
	// means no wait at all between attempts (unless an error asks for one,
	// see [Do]).
	InitialInterval time.Duration

	// Multiplier is the growth of the wait per attempt: the wait after
	// attempt n is InitialInterval * Multiplier^(n-1), before jitter.
	// 0 or NaN means [DefaultMultiplier] (2); a value below 1 is treated as
	// 1 (a constant wait); +Inf jumps to MaxInterval from the second wait on.
	Multiplier float64

	// MaxInterval caps one wait. It caps the exponential base before jitter
	// and the jittered wait after it, so no wait exceeds it. 0 or a negative
	// value means [DefaultMaxInterval] (30s).
	MaxInterval time.Duration

	// MaxElapsed is the total time budget, measured from the start of the
	// first attempt and including the time the attempts themselves run.
	// 0 or a negative value means no budget. A wait that would end past the
	// budget is shortened to what is left; when nothing is left after a
	// failed attempt, [Do] gives up with [Deadline]. MaxElapsed does not
	// interrupt a running attempt: use AttemptTimeout or a context deadline
	// for that.
	MaxElapsed time.Duration

	// Jitter randomizes the waits. The zero value, [NoJitter], waits
	// exactly the exponential schedule; unknown values are read as NoJitter.
	Jitter Jitter

	// JitterFactor is the spread of [FactorJitter]: the wait is uniform in
	// delay*(1-JitterFactor) … delay*(1+JitterFactor). 0, negative or NaN
	// means [DefaultJitterFactor] (0.5); values above 1 are treated as 1.
	// Other jitter modes ignore it.
	JitterFactor float64

	// AttemptTimeout bounds one attempt: each call of the function gets a
	// context that ends after AttemptTimeout. An attempt that fails because
	// its own timeout expired is retried (unless its error is marked
	// [Permanent]); the caller's context ending is never retried.
	// 0 or a negative value means no per-attempt timeout.
	AttemptTimeout time.Duration

	// Classify decides about errors marked neither [Permanent] nor
	// [Retryable]: true means retry, false means give up at once with
	// [Unretryable]. nil retries every unmarked error.
	Classify func(error) bool

	// Hooks are called as attempts fail and retries are scheduled.
	// nil means no hooks, at no cost.
	Hooks *Hooks

	// Clock supplies the time and the waits. nil means the real clock
	// (time.Now and timers), which is also what testing/synctest fakes.
	Clock Clock

	// Rand is the random source for jitter. nil means the package-level
	// source of math/rand/v2, which is safe for concurrent use; a non-nil
	// Rand is not, see above.
	Rand *rand.Rand
}

// maxAttempts returns the attempt limit, or 0 for no limit.
func (p *Policy) maxAttempts() int {
	switch {
	case p.MaxAttempts < 0:
		return 0
	case p.MaxAttempts == 0:
		return 1
	}
	return p.MaxAttempts
}

// initialInterval returns the first wait, or a negative value for "never wait".
func (p *Policy) initialInterval() time.Duration {
	if p.InitialInterval == 0 {
		return DefaultInitialInterval
	}
	return p.InitialInterval
}

func (p *Policy) multiplier() float64 {
	m := p.Multiplier
	switch {
	case m == 0 || math.IsNaN(m):
		return DefaultMultiplier
	case m < 1:
		return 1
	}
	return m
}

func (p *Policy) maxInterval() time.Duration {
	if p.MaxInterval <= 0 {
		return DefaultMaxInterval
	}
	return p.MaxInterval
}

func (p *Policy) jitterFactor() float64 {
	f := p.JitterFactor
	switch {
	case !(f > 0): // zero, negative or NaN
		return DefaultJitterFactor
	case f > 1:
		return 1
	}
	return f
}

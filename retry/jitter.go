package retry

import (
	"math/rand/v2"
	"strconv"
)

// Jitter selects how [Policy.Delay] randomizes the exponential schedule.
// Randomized waits keep many clients that failed together from retrying
// together. Let base be min(InitialInterval*Multiplier^(attempt-1),
// MaxInterval); every mode's result is capped at MaxInterval again.
type Jitter uint8

const (
	// NoJitter waits exactly base. It is the zero value.
	NoJitter Jitter = iota

	// FullJitter waits uniformly in [0, base].
	FullJitter

	// EqualJitter waits base/2 plus a uniform part in [0, base/2], so
	// never less than half the schedule.
	EqualJitter

	// DecorrelatedJitter waits uniformly in [InitialInterval, 3*prev],
	// where prev is the previous wait (InitialInterval before the first).
	// It ignores Multiplier and the attempt number: the schedule grows
	// from the previous wait, as described in the AWS Architecture Blog
	// post "Exponential Backoff And Jitter".
	DecorrelatedJitter

	// FactorJitter waits uniformly in [base*(1-f), base*(1+f)] with
	// f = [Policy.JitterFactor].
	FactorJitter
)

var jitterNames = [...]string{
	NoJitter:           "NoJitter",
	FullJitter:         "FullJitter",
	EqualJitter:        "EqualJitter",
	DecorrelatedJitter: "DecorrelatedJitter",
	FactorJitter:       "FactorJitter",
}

// String returns the constant's name, such as "FullJitter", or
// "Jitter(n)" for an unknown value.
func (j Jitter) String() string {
	if int(j) < len(jitterNames) {
		return jitterNames[j]
	}
	return "Jitter(" + strconv.Itoa(int(j)) + ")"
}

// uniform returns a number in [lo, hi) drawn from r, or from the
// package-level source when r is nil. It returns lo when hi <= lo.
func uniform(r *rand.Rand, lo, hi float64) float64 {
	if !(hi > lo) {
		return lo
	}
	var u float64
	if r != nil {
		u = r.Float64()
	} else {
		u = rand.Float64()
	}
	return lo + u*(hi-lo)
}

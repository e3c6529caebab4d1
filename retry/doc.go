// Package retry runs a function again when it fails with a transient
// error, waiting longer between attempts, until it succeeds or a limit is
// reached. In sagakit it lets a saga step's action or compensation survive
// a dropped connection or a busy service instead of failing the saga.
//
// # The model
//
// A call of [Do] makes attempts. Each attempt calls the function once.
// When an attempt fails, Do decides, in this order:
//
//  1. If the caller's context has ended (cancellation or its deadline),
//     stop with [Canceled]. This is terminal: Do never retries past it,
//     and it also cuts a wait short.
//  2. If the error is marked [Permanent], or is unmarked and
//     [Policy.Classify] rejects it, stop with [Unretryable].
//  3. If [Policy.MaxAttempts] attempts have been made, stop with [Exhausted].
//  4. Compute the wait (see below). If the [Policy.MaxElapsed] budget is
//     spent, stop with [Deadline]; otherwise wait and make the next attempt.
//
// An attempt that succeeds ends Do with a nil error. When Do stops, it
// returns an [*Error] holding the [Reason], the number of attempts, the
// time spent, the last attempt's error and, for Canceled, the context's
// cause.
//
// # Policies
//
// A [Policy] is a plain struct whose zero value means "one attempt, no
// retry"; each field documents its own default, and values that make no
// sense are read as that default. Policies are values: copy one to make a
// variant, share one between goroutines.
//
//	var flaky = retry.Policy{
//		MaxAttempts:     5, // the first try and 4 retries
//		InitialInterval: 200 * time.Millisecond,
//		MaxInterval:     5 * time.Second,
//		MaxElapsed:      30 * time.Second,
//		Jitter:          retry.FullJitter,
//	}
//
//	err := retry.Do(ctx, flaky, func(ctx context.Context) error {
//		return client.Reserve(ctx, seat)
//	})
//
// [DoValue] does the same for a function returning a value, and [Wrap]
// turns a saga action or compensation func(context.Context, *S) error into
// one that retries under a policy (S is the saga state type).
//
// # Classifying errors
//
// By default every error is retried. To decide per error, mark it where it
// is created, or classify it centrally:
//
//   - [Permanent](err) is never retried: a validation failure, a 404, a
//     declined card.
//   - [Retryable](err) is always retried within the limits, whatever
//     Classify says.
//   - [Policy.Classify] decides about unmarked errors; nil retries them all.
//
// Marks are found anywhere in the error's tree (through fmt.Errorf's %w,
// errors.Join and a nested Do's [*Error]); the outermost mark wins. An
// attempt that ran out of its own [Policy.AttemptTimeout] is retried
// unless marked Permanent.
//
// # Waits and jitter
//
// The wait after attempt n is InitialInterval * Multiplier^(n-1), capped
// at MaxInterval, then randomized by [Policy.Jitter] and capped again.
// [Policy.Delay] computes it as a pure function, so a runner that drives
// attempts itself (for example, resuming after a crash from a persisted
// attempt count) gets the same schedule as Do. Two adjustments apply in
// Do only:
//
//   - An error with a method RetryAfter() time.Duration, such as one made
//     from an HTTP Retry-After header, sets a floor on the next wait,
//     itself capped by MaxInterval.
//   - With MaxElapsed set, a wait is shortened to the budget that is left.
//     The budget includes the attempts' own run time.
//
// # Attempt numbers
//
// Inside the function, [Attempt] tells which attempt is running, counted
// from 1, for logs or idempotency keys. Do numbers its own attempts, even
// when nested in another Do. [WithAttempt] sets the number for runners
// that make attempts themselves.
//
// # Observing retries
//
// [Hooks] receive an event per failed attempt ([Hooks.OnAttemptFailed]),
// per scheduled retry ([Hooks.OnRetryScheduled], only when a retry will
// really happen) and when Do gives up ([Hooks.OnGaveUp]). Tests need no
// fake [Clock]: the real clock runs on fake time inside a testing/synctest
// bubble.
//
// # Cost
//
// A first attempt that succeeds allocates nothing: Do creates no context,
// timer or closure until an attempt fails (unless AttemptTimeout is set,
// which costs a context per attempt). Retrying allocates one timer for
// all the waits of a call and the attempt contexts of up to eight retries
// at a time.
package retry

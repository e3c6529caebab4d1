package retry

import (
	"context"
	"time"
)

// Hooks are functions [Do] calls as it goes, for logging, metrics and
// tracing. Any of them may be nil. They are called synchronously on the
// goroutine that called Do, with the caller's context (not the attempt's),
// so they should be quick; a Hooks value shared by several policies or
// goroutines must be safe for concurrent use. Hooks are observers: they
// cannot change what Do does.
//
// For one call of Do that makes n attempts and fails, OnAttemptFailed is
// called n times, OnRetryScheduled n-1 times (once per wait that actually
// starts) and OnGaveUp once. A call that succeeds calls OnAttemptFailed and
// OnRetryScheduled once per failed attempt and never OnGaveUp.
type Hooks struct {
	// OnAttemptFailed is called after every failed attempt, the last one
	// included, with the attempt's number (from 1) and error.
	OnAttemptFailed func(ctx context.Context, attempt int, err error)

	// OnRetryScheduled is called when a retry will happen, before the wait:
	// attempt is the number of the attempt that failed, err its error and
	// delay the wait before attempt+1 (after jitter, the RetryAfter floor
	// and the MaxElapsed clamp). It is not called when Do gives up.
	OnRetryScheduled func(ctx context.Context, attempt int, err error, delay time.Duration)

	// OnGaveUp is called once when Do gives up, with the error it is
	// about to return.
	OnGaveUp func(ctx context.Context, err *Error)
}

func (h *Hooks) attemptFailed(ctx context.Context, attempt int, err error) {
	if h != nil && h.OnAttemptFailed != nil {
		h.OnAttemptFailed(ctx, attempt, err)
	}
}

func (h *Hooks) retryScheduled(ctx context.Context, attempt int, err error, delay time.Duration) {
	if h != nil && h.OnRetryScheduled != nil {
		h.OnRetryScheduled(ctx, attempt, err, delay)
	}
}

func (h *Hooks) gaveUp(ctx context.Context, err *Error) {
	if h != nil && h.OnGaveUp != nil {
		h.OnGaveUp(ctx, err)
	}
}

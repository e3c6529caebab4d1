package retry

import "time"

// Permanent marks err as not to be retried: [Do] gives up at once with
// [Unretryable], whatever [Policy.Classify] says. errors.Is and errors.As
// still reach err through the mark, and its message is err's.
// Permanent(nil) returns nil.
//
// When marks are nested, the outermost one wins:
// Permanent(Retryable(err)) is permanent.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err, permanent: true}
}

// Retryable marks err as to be retried (within the policy's limits),
// whatever [Policy.Classify] says. errors.Is and errors.As still reach err
// through the mark, and its message is err's. Retryable(nil) returns nil.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err}
}

// markedError is the mark of Permanent and Retryable.
type markedError struct {
	err       error
	permanent bool
}

func (e *markedError) Error() string { return e.err.Error() }
func (e *markedError) Unwrap() error { return e.err }

// verdict is the classification of one failed attempt.
type verdict uint8

const (
	unmarked verdict = iota
	markedRetryable
	markedPermanent
)

// mark returns the outermost Permanent/Retryable mark in err's tree.
func mark(err error) verdict {
	var v verdict
	walk(err, func(err error) bool {
		m, ok := err.(*markedError)
		if !ok {
			return false
		}
		v = markedRetryable
		if m.permanent {
			v = markedPermanent
		}
		return true
	})
	return v
}

// retryAfterError is an error that asks for a minimum wait before the next
// attempt, such as an HTTP 429 or 503 with a Retry-After header.
type retryAfterError interface {
	error
	RetryAfter() time.Duration
}

// retryAfter returns the RetryAfter of the first error in err's tree that
// has one, or 0.
func retryAfter(err error) time.Duration {
	var d time.Duration
	walk(err, func(err error) bool {
		ra, ok := err.(retryAfterError)
		if ok {
			d = ra.RetryAfter()
		}
		return ok
	})
	return d
}

// walk calls f on err and the errors it wraps, depth first in the order
// errors.Is uses, until f returns true; it reports whether f did. Unlike
// errors.As it does not allocate (it ignores As methods).
func walk(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, err := range u.Unwrap() {
				if walk(err, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

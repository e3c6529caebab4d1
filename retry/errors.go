package retry

import (
	"strconv"
	"time"
)

// Reason says why [Do] gave up.
type Reason uint8

const (
	// Exhausted means MaxAttempts attempts all failed with retryable errors.
	Exhausted Reason = iota + 1

	// Unretryable means an attempt failed with an error that must not be
	// retried: it was marked with [Permanent], or [Policy.Classify]
	// returned false for it.
	Unretryable

	// Deadline means the [Policy.MaxElapsed] budget was spent.
	Deadline

	// Canceled means the caller's context ended, by cancellation or by
	// its own deadline; [Error.Context] holds its cause.
	Canceled
)

var reasonNames = [...]string{
	Exhausted:   "exhausted",
	Unretryable: "unretryable",
	Deadline:    "deadline",
	Canceled:    "canceled",
}

// String returns the reason in lower case, such as "exhausted", or
// "Reason(n)" for an unknown value.
func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Error is the error [Do] returns when it gives up, whatever the reason and
// even after a single attempt. Use errors.As to get at it, and errors.Is or
// errors.As to look through it at the last attempt's error and at the
// context's error:
//
//	var re *retry.Error
//	if errors.As(err, &re) && re.Reason == retry.Exhausted { … }
//	if errors.Is(err, sql.ErrConnDone) { … }     // matches Last
//	if errors.Is(err, context.Canceled) { … }    // matches Context
type Error struct {
	// Reason says why Do gave up.
	Reason Reason

	// Attempts is the number of attempts made. It is 0 only when the
	// caller's context had ended before the first attempt.
	Attempts int

	// Elapsed is the time from the start of the first attempt until Do
	// gave up, waits included.
	Elapsed time.Duration

	// Last is the last attempt's error, as the function returned it
	// (markers from [Permanent] and [Retryable] included). It is nil only
	// when Attempts is 0.
	Last error

	// Context is context.Cause of the caller's context when Reason is
	// [Canceled], and nil otherwise.
	Context error
}

var _ error = (*Error)(nil)

// Error returns a message of the form
//
//	retry: gave up after 3 attempts (exhausted): <last error>
//
// naming the context's cause when there was no attempt. The time spent is
// in Elapsed and left out of the message, so equal failures read the same.
func (e *Error) Error() string {
	b := make([]byte, 0, 64)
	b = append(b, "retry: gave up after "...)
	b = strconv.AppendInt(b, int64(e.Attempts), 10)
	if e.Attempts == 1 {
		b = append(b, " attempt ("...)
	} else {
		b = append(b, " attempts ("...)
	}
	b = append(b, e.Reason.String()...)
	b = append(b, ')')
	switch {
	case e.Last != nil:
		b = append(b, ": "...)
		b = append(b, e.Last.Error()...)
	case e.Context != nil:
		b = append(b, ": "...)
		b = append(b, e.Context.Error()...)
	}
	return string(b)
}

// Unwrap returns Last and Context, leaving out the nil ones, so that
// errors.Is and errors.As see both the last attempt's error and the
// context's cause.
func (e *Error) Unwrap() []error {
	switch {
	case e.Last == nil && e.Context == nil:
		return nil
	case e.Context == nil:
		return []error{e.Last}
	case e.Last == nil:
		return []error{e.Context}
	}
	return []error{e.Last, e.Context}
}

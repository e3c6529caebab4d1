package retry_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
)

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *retry.Error
		want string
	}{
		{&retry.Error{Reason: retry.Exhausted, Attempts: 3, Elapsed: 1234567 * time.Microsecond, Last: errBoom},
			"retry: gave up after 3 attempts (exhausted): boom"},
		{&retry.Error{Reason: retry.Unretryable, Attempts: 1, Elapsed: 1500 * time.Nanosecond, Last: errBoom},
			"retry: gave up after 1 attempt (unretryable): boom"},
		{&retry.Error{Reason: retry.Deadline, Attempts: 7, Elapsed: time.Minute, Last: errBoom},
			"retry: gave up after 7 attempts (deadline): boom"},
		{&retry.Error{Reason: retry.Canceled, Context: context.Canceled},
			"retry: gave up after 0 attempts (canceled): context canceled"},
		{&retry.Error{},
			"retry: gave up after 0 attempts (Reason(0))"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

func TestErrorUnwrap(t *testing.T) {
	is := is.New(t)
	last := &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}
	e := &retry.Error{Reason: retry.Canceled, Attempts: 2, Last: last, Context: context.Canceled}
	is.True(errors.Is(e, fs.ErrNotExist))
	is.True(errors.Is(e, context.Canceled))
	var pe *fs.PathError
	is.True(errors.As(e, &pe))
	is.Equal(pe, last)

	is.Equal(len((&retry.Error{Last: last}).Unwrap()), 1)
	is.Equal(len((&retry.Error{Context: context.Canceled}).Unwrap()), 1)
	is.Equal(len((&retry.Error{}).Unwrap()), 0)
}

func TestErrorFromDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		perm := retry.Permanent(errBoom)
		err := retry.Do(context.Background(), retry.Policy{MaxAttempts: 2}, func(context.Context) error {
			time.Sleep(time.Second)
			return perm
		})
		want := &retry.Error{Reason: retry.Unretryable, Attempts: 1, Elapsed: time.Second, Last: perm}
		is.Equal(asError(t, err), want)
		is.Equal(err.Error(), "retry: gave up after 1 attempt (unretryable): boom")
	})
}

func TestReasonString(t *testing.T) {
	is := is.New(t)
	is.Equal(retry.Exhausted.String(), "exhausted")
	is.Equal(retry.Unretryable.String(), "unretryable")
	is.Equal(retry.Deadline.String(), "deadline")
	is.Equal(retry.Canceled.String(), "canceled")
	is.Equal(retry.Reason(0).String(), "Reason(0)")
	is.Equal(retry.Reason(99).String(), "Reason(99)")
}

package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"testing/synctest"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
)

func TestMarksNil(t *testing.T) {
	is := is.New(t)
	is.Equal(retry.Permanent(nil), nil)
	is.Equal(retry.Retryable(nil), nil)
}

func TestMarksKeepError(t *testing.T) {
	is := is.New(t)
	base := &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}
	for _, err := range []error{retry.Permanent(base), retry.Retryable(base)} {
		is.Equal(err.Error(), base.Error())
		is.True(errors.Is(err, fs.ErrNotExist))
		var pe *fs.PathError
		is.True(errors.As(err, &pe))
		is.Equal(pe, base)
	}
}

// attemptsFor runs Do with up to 3 attempts, fn always failing with err,
// and returns the number of calls and the Reason.
func attemptsFor(t *testing.T, p retry.Policy, err error) (int, retry.Reason) {
	t.Helper()
	p.MaxAttempts = 3
	calls := 0
	got := retry.Do(context.Background(), p, func(context.Context) error { calls++; return err })
	return calls, asError(t, got).Reason
}

func TestClassification(t *testing.T) {
	isFatal := func(err error) bool { return !errors.Is(err, fs.ErrPermission) } // retry unless permission denied
	tests := []struct {
		name     string
		classify func(error) bool
		err      error
		calls    int
		reason   retry.Reason
	}{
		{"nil Classify retries unmarked", nil, errBoom, 3, retry.Exhausted},
		{"Classify true retries", isFatal, errBoom, 3, retry.Exhausted},
		{"Classify false stops", isFatal, fs.ErrPermission, 1, retry.Unretryable},
		{"Permanent beats nil Classify", nil, retry.Permanent(errBoom), 1, retry.Unretryable},
		{"Permanent beats Classify true", isFatal, retry.Permanent(errBoom), 1, retry.Unretryable},
		{"Retryable beats Classify false", isFatal, retry.Retryable(fs.ErrPermission), 3, retry.Exhausted},
		{"wrapped Permanent", nil, fmt.Errorf("step: %w", retry.Permanent(errBoom)), 1, retry.Unretryable},
		{"joined Permanent", nil, errors.Join(errBoom, retry.Permanent(errBoom)), 1, retry.Unretryable},
		{"outermost mark wins: permanent", nil, retry.Permanent(retry.Retryable(errBoom)), 1, retry.Unretryable},
		{"outermost mark wins: retryable", nil, retry.Retryable(retry.Permanent(errBoom)), 3, retry.Exhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				calls, reason := attemptsFor(t, retry.Policy{Classify: tt.classify}, tt.err)
				is.Equal(calls, tt.calls)
				is.Equal(reason, tt.reason)
			})
		})
	}
}

func TestClassifySeesUnmarkedErrorsOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var seen []error
		p := retry.Policy{Classify: func(err error) bool { seen = append(seen, err); return true }}
		attemptsFor(t, p, retry.Retryable(errBoom))
		attemptsFor(t, p, retry.Permanent(errBoom))
		is.Equal(len(seen), 0)
		attemptsFor(t, p, errBoom)
		is.Equal(len(seen), 3) // consulted after every failure, so that the Reason is exact
	})
}

func TestPermanentPropagatesThroughNestedDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		inner := 0
		err := retry.Do(context.Background(), retry.Policy{MaxAttempts: 3}, func(ctx context.Context) error {
			return retry.Do(ctx, retry.Policy{MaxAttempts: 3}, func(context.Context) error {
				inner++
				return retry.Permanent(errBoom)
			})
		})
		is.Equal(inner, 1) // the outer loop sees the mark through the inner *Error
		is.Equal(asError(t, err).Reason, retry.Unretryable)
	})
}

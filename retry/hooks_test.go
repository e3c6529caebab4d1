package retry_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagakit/sagakit/retry"
)

// logHooks returns Hooks that append a line per event to *log.
func logHooks(log *[]string) *retry.Hooks {
	return &retry.Hooks{
		OnAttemptFailed: func(_ context.Context, attempt int, err error) {
			*log = append(*log, fmt.Sprintf("failed %d: %v", attempt, err))
		},
		OnRetryScheduled: func(_ context.Context, attempt int, err error, d time.Duration) {
			*log = append(*log, fmt.Sprintf("retry after %d in %v: %v", attempt, d, err))
		},
		OnGaveUp: func(_ context.Context, err *retry.Error) {
			*log = append(*log, fmt.Sprintf("gave up: %v after %d", err.Reason, err.Attempts))
		},
	}
}

func TestHooks(t *testing.T) {
	tests := []struct {
		name string
		p    retry.Policy
		errs []error
		want []string
	}{
		{"success first", retry.Policy{MaxAttempts: 3}, nil, nil},
		{"success third", retry.Policy{MaxAttempts: 3}, []error{errBoom, errBoom, nil}, []string{
			"failed 1: boom",
			"retry after 1 in 100ms: boom",
			"failed 2: boom",
			"retry after 2 in 200ms: boom",
		}},
		{"exhausted", retry.Policy{MaxAttempts: 3}, []error{errBoom}, []string{
			"failed 1: boom",
			"retry after 1 in 100ms: boom",
			"failed 2: boom",
			"retry after 2 in 200ms: boom",
			"failed 3: boom",
			"gave up: exhausted after 3",
		}},
		{"single attempt: no retry scheduled", retry.Policy{}, []error{errBoom}, []string{
			"failed 1: boom",
			"gave up: exhausted after 1",
		}},
		{"permanent: no retry scheduled", retry.Policy{MaxAttempts: 3}, []error{retry.Permanent(errBoom)}, []string{
			"failed 1: boom",
			"gave up: unretryable after 1",
		}},
		{"deadline: no retry scheduled", retry.Policy{MaxAttempts: 5, MaxElapsed: 250 * time.Millisecond}, []error{errBoom}, []string{
			"failed 1: boom",
			"retry after 1 in 100ms: boom",
			"failed 2: boom",
			"retry after 2 in 150ms: boom",
			"failed 3: boom",
			"gave up: deadline after 3",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var log []string
				tt.p.Hooks = logHooks(&log)
				r := newRecorder(tt.errs...)
				_ = retry.Do(context.Background(), tt.p, r.fn)
				if diff := cmp.Diff(tt.want, log); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestHooksCanceledDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log []string
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		r := newRecorder(errBoom)
		_ = retry.Do(ctx, retry.Policy{MaxAttempts: 3, Hooks: logHooks(&log)}, r.fn)
		want := []string{
			"failed 1: boom",
			"retry after 1 in 100ms: boom", // scheduled, then interrupted
			"gave up: canceled after 1",
		}
		if diff := cmp.Diff(want, log); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

func TestHooksPartial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gaveUp := 0
		p := retry.Policy{MaxAttempts: 2, Hooks: &retry.Hooks{OnGaveUp: func(context.Context, *retry.Error) { gaveUp++ }}}
		_ = retry.Do(context.Background(), p, newRecorder(errBoom).fn)
		if gaveUp != 1 {
			t.Errorf("OnGaveUp called %d times, want 1", gaveUp)
		}
	})
}

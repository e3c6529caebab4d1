package retry_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
)

func TestPolicyMaxAttempts(t *testing.T) {
	tests := []struct {
		maxAttempts int
		calls       int
		reason      retry.Reason
	}{
		{0, 1, retry.Exhausted},
		{1, 1, retry.Exhausted},
		{2, 2, retry.Exhausted},
		{5, 5, retry.Exhausted},
		{retry.Unlimited, 11, retry.Deadline}, // stopped by MaxElapsed: waits of 1s
		{-7, 11, retry.Deadline},              // any negative value is unlimited
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			is := is.New(t)
			p := retry.Policy{MaxAttempts: tt.maxAttempts, InitialInterval: time.Second, Multiplier: 1, MaxElapsed: 10 * time.Second}
			r := newRecorder(errBoom)
			re := asError(t, retry.Do(context.Background(), p, r.fn))
			is.Equal(r.calls(), tt.calls)
			is.Equal(re.Reason, tt.reason)
			is.Equal(re.Attempts, tt.calls)
		})
	}
}

func TestPolicyIsAValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		base := retry.Policy{MaxAttempts: 2}
		strict := base
		strict.MaxAttempts = 1
		r1, r2 := newRecorder(errBoom), newRecorder(errBoom)
		_ = retry.Do(context.Background(), base, r1.fn)
		_ = retry.Do(context.Background(), strict, r2.fn)
		is.Equal(r1.calls(), 2)
		is.Equal(r2.calls(), 1)
	})
}

package retry_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
)

type ctxKey string

func TestAttemptInsideFn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx := context.WithValue(context.Background(), ctxKey("k"), "v")
		var got []int
		err := retry.Do(ctx, retry.Policy{MaxAttempts: 20, InitialInterval: -1}, func(ctx context.Context) error {
			got = append(got, retry.Attempt(ctx))
			is.Equal(ctx.Value(ctxKey("k")), "v") // values still reach through
			return errBoom
		})
		is.Equal(asError(t, err).Attempts, 20)
		want := make([]int, 20)
		for i := range want {
			want[i] = i + 1
		}
		is.Equal(got, want)
	})
}

func TestAttemptContextsAreIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var ctxs []context.Context
		_ = retry.Do(context.Background(), retry.Policy{MaxAttempts: 12, InitialInterval: -1}, func(ctx context.Context) error {
			ctxs = append(ctxs, ctx)
			return errBoom
		})
		for i, ctx := range ctxs { // a context kept from an earlier attempt keeps its number
			is.Equal(retry.Attempt(ctx), i+1)
		}
	})
}

func TestAttemptWithTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var got []int
		_ = retry.Do(context.Background(), retry.Policy{MaxAttempts: 3, AttemptTimeout: time.Second}, func(ctx context.Context) error {
			got = append(got, retry.Attempt(ctx))
			return errBoom
		})
		is.Equal(got, []int{1, 2, 3})
	})
}

func TestAttemptDefault(t *testing.T) {
	is := is.New(t)
	is.Equal(retry.Attempt(context.Background()), 1)
}

func TestWithAttempt(t *testing.T) {
	is := is.New(t)
	ctx := retry.WithAttempt(context.Background(), 4)
	is.Equal(retry.Attempt(ctx), 4)
	is.Equal(retry.Attempt(retry.WithAttempt(ctx, 0)), 1)
	is.Equal(retry.Attempt(retry.WithAttempt(ctx, 300)), 300)
	is.Equal(fmt.Sprint(ctx), "context.Background.WithAttempt(4)")

	// Cancellation propagates through it.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	is.Equal(retry.Attempt(cctx), 4)
	<-cctx.Done()
}

func TestDoRenumbersNestedAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var inner []int
		outer := retry.Do(context.Background(), retry.Policy{MaxAttempts: 2, InitialInterval: -1}, func(ctx context.Context) error {
			return retry.Do(ctx, retry.Policy{MaxAttempts: 2, InitialInterval: -1}, func(ctx context.Context) error {
				inner = append(inner, retry.Attempt(ctx))
				return errBoom
			})
		})
		is.True(outer != nil)
		// The outer loop retried the inner one, which counts from 1 each time.
		is.Equal(inner, []int{1, 2, 1, 2})

		var got int
		_ = retry.Do(retry.WithAttempt(context.Background(), 7), retry.Policy{}, func(ctx context.Context) error {
			got = retry.Attempt(ctx)
			return nil
		})
		is.Equal(got, 1)
	})
}

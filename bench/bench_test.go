package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/retrypolicy"

	"github.com/sagakit/sagakit/retry"
)

// Every benchmark does the same work: at most attempts attempts with
// exponential backoff (factor 2, no jitter) from interval, a function that
// fails failures times and then succeeds. Policies and executors are built once,
// outside the loop, as a program would; backoff's stateful BackOff is
// reset by backoff.Retry at each call.

var errBoom = errors.New("boom")

const tiny = time.Microsecond

type scenario struct {
	name     string
	attempts int
	failures int
	interval time.Duration // 0 = no wait
}

var scenarios = []scenario{
	{"FirstTrySuccess", 3, 0, 100 * time.Millisecond},
	{"ThreeAttemptsNoWait", 3, 2, 0},
	{"ThreeAttemptsTinyInterval", 3, 2, tiny},
	{"TenAttemptsNoWait", 10, 9, 0},
}

// failing returns a function failing n times, then succeeding, and a reset.
func failing(n int) (fn func() error, reset func()) {
	calls := 0
	return func() error {
			if calls++; calls <= n {
				return errBoom
			}
			return nil
		}, func() {
			calls = 0
		}
}

func BenchmarkSagakit(b *testing.B) {
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			ctx := context.Background()
			p := retry.Policy{MaxAttempts: sc.attempts, InitialInterval: sc.interval, MaxInterval: time.Second}
			if sc.interval == 0 {
				p.InitialInterval = -1 // no wait
			}
			fn, reset := failing(sc.failures)
			op := func(context.Context) error { return fn() }
			b.ReportAllocs()
			for b.Loop() {
				reset()
				if err := retry.Do(ctx, p, op); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBackoff(b *testing.B) {
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			ctx := context.Background()
			var bo backoff.BackOff = &backoff.ZeroBackOff{}
			if sc.interval > 0 {
				bo = &backoff.ExponentialBackOff{
					InitialInterval:     sc.interval,
					RandomizationFactor: 0,
					Multiplier:          2,
					MaxInterval:         time.Second,
				}
			}
			fn, reset := failing(sc.failures)
			op := func() (struct{}, error) { return struct{}{}, fn() }
			b.ReportAllocs()
			for b.Loop() {
				reset()
				_, err := backoff.Retry(ctx, op,
					backoff.WithBackOff(bo),
					backoff.WithMaxTries(uint(sc.attempts)),
					backoff.WithMaxElapsedTime(0))
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFailsafe(b *testing.B) {
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			ctx := context.Background()
			rb := retrypolicy.NewBuilder[any]().WithMaxAttempts(sc.attempts)
			if sc.interval > 0 {
				rb = rb.WithBackoff(sc.interval, time.Second)
			} else {
				rb = rb.WithDelay(0)
			}
			ex := failsafe.With(rb.Build()).WithContext(ctx)
			fn, reset := failing(sc.failures)
			b.ReportAllocs()
			for b.Loop() {
				reset()
				if err := ex.Run(fn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

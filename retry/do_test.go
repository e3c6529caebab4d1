package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
)

var errBoom = errors.New("boom")

// recorder is a fn for Do that fails with the queued errors (nil = success)
// and records the time of each call relative to its creation.
type recorder struct {
	start time.Time
	errs  []error // errors to return in order; after the end, the last one
	at    []time.Duration
}

func newRecorder(errs ...error) *recorder {
	return &recorder{start: time.Now(), errs: errs}
}

func (r *recorder) fn(ctx context.Context) error {
	r.at = append(r.at, time.Since(r.start))
	i := min(len(r.at), len(r.errs)) - 1
	if i < 0 {
		return nil
	}
	return r.errs[i]
}

func (r *recorder) calls() int { return len(r.at) }

// asError returns err as a *retry.Error, failing the test if it is not one.
func asError(t *testing.T, err error) *retry.Error {
	t.Helper()
	var re *retry.Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *retry.Error", err, err)
	}
	return re
}

func TestDoZeroPolicyRunsOnce(t *testing.T) {
	is := is.New(t)
	r := newRecorder(errBoom)
	err := retry.Do(context.Background(), retry.Policy{}, r.fn)
	is.Equal(r.calls(), 1)
	re := asError(t, err)
	is.Equal(re.Reason, retry.Exhausted)
	is.Equal(re.Attempts, 1)
	is.True(errors.Is(err, errBoom))
}

func TestDoSuccessReturnsNil(t *testing.T) {
	is := is.New(t)
	r := newRecorder()
	is.NoErr(retry.Do(context.Background(), retry.Policy{MaxAttempts: 3}, r.fn))
	is.Equal(r.calls(), 1)
}

func TestDoExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		r := newRecorder(errBoom)
		err := retry.Do(context.Background(), retry.Policy{MaxAttempts: 3}, r.fn)
		re := asError(t, err)
		is.Equal(r.calls(), 3)
		is.Equal(re.Reason, retry.Exhausted)
		is.Equal(re.Attempts, 3)
		is.Equal(re.Elapsed, 300*time.Millisecond) // 100ms + 200ms
		is.Equal(re.Last, errBoom)
		is.Equal(re.Context, nil)
		is.Equal(r.at, []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond})
	})
}

func TestDoSucceedsAfterFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		r := newRecorder(errBoom, errBoom, nil)
		err := retry.Do(context.Background(), retry.Policy{MaxAttempts: 5}, r.fn)
		is.NoErr(err)
		is.Equal(r.calls(), 3)
	})
}

func TestDoSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(errBoom)
		p := retry.Policy{
			MaxAttempts:     6,
			InitialInterval: time.Second,
			Multiplier:      3,
			MaxInterval:     20 * time.Second,
		}
		_ = retry.Do(context.Background(), p, r.fn)
		s := time.Second
		want := []time.Duration{0, 1 * s, 4 * s, 13 * s, 33 * s, 53 * s} // waits 1, 3, 9, 20, 20
		if diff := cmp.Diff(want, r.at); diff != "" {
			t.Errorf("attempt times (-want +got):\n%s", diff)
		}
	})
}

func TestDoNegativeIntervalNoWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		r := newRecorder(errBoom)
		_ = retry.Do(context.Background(), retry.Policy{MaxAttempts: 4, InitialInterval: -1}, r.fn)
		is.Equal(r.at, []time.Duration{0, 0, 0, 0})
	})
}

func TestDoUnlimitedUntilSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		errs := make([]error, 50)
		for i := range 49 {
			errs[i] = errBoom
		}
		r := newRecorder(errs...)
		p := retry.Policy{MaxAttempts: retry.Unlimited, InitialInterval: time.Millisecond, Multiplier: 1}
		is.NoErr(retry.Do(context.Background(), p, r.fn))
		is.Equal(r.calls(), 50)
	})
}

func TestDoMaxElapsedClampsLastWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		r := newRecorder(errBoom)
		var delays []time.Duration
		p := retry.Policy{
			MaxAttempts:     retry.Unlimited,
			InitialInterval: 400 * time.Millisecond,
			MaxElapsed:      time.Second,
			Hooks: &retry.Hooks{OnRetryScheduled: func(_ context.Context, _ int, _ error, d time.Duration) {
				delays = append(delays, d)
			}},
		}
		re := asError(t, retry.Do(context.Background(), p, r.fn))
		is.Equal(re.Reason, retry.Deadline)
		is.Equal(re.Attempts, 3)
		is.Equal(re.Elapsed, time.Second)
		// Waits 400ms, then 800ms clamped to the 600ms left.
		is.Equal(delays, []time.Duration{400 * time.Millisecond, 600 * time.Millisecond})
		is.Equal(r.at, []time.Duration{0, 400 * time.Millisecond, time.Second})
	})
}

func TestDoMaxElapsedIncludesRunTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		calls := 0
		p := retry.Policy{MaxAttempts: 10, MaxElapsed: time.Second}
		err := retry.Do(context.Background(), p, func(context.Context) error {
			calls++
			time.Sleep(2 * time.Second) // the attempt alone spends the budget
			return errBoom
		})
		re := asError(t, err)
		is.Equal(calls, 1)
		is.Equal(re.Reason, retry.Deadline)
		is.Equal(re.Elapsed, 2*time.Second)
	})
}

func TestDoExhaustedBeatsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		p := retry.Policy{MaxAttempts: 1, MaxElapsed: time.Second}
		err := retry.Do(context.Background(), p, func(context.Context) error {
			time.Sleep(2 * time.Second)
			return errBoom
		})
		is.Equal(asError(t, err).Reason, retry.Exhausted)
	})
}

func TestDoCanceledBeforeStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		calls := 0
		err := retry.Do(ctx, retry.Policy{MaxAttempts: 3}, func(context.Context) error { calls++; return nil })
		is.Equal(calls, 0)
		re := asError(t, err)
		is.Equal(re.Reason, retry.Canceled)
		is.Equal(re.Attempts, 0)
		is.Equal(re.Last, nil)
		is.True(errors.Is(err, context.Canceled))
		is.Equal(err.Error(), "retry: gave up after 0 attempts (canceled): context canceled")
	})
}

func TestDoCancelInterruptsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		cause := errors.New("shutting down")
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(150*time.Millisecond, func() { cancel(cause) })
		r := newRecorder(errBoom)
		err := retry.Do(ctx, retry.Policy{MaxAttempts: 10}, r.fn)
		re := asError(t, err)
		is.Equal(re.Reason, retry.Canceled)
		is.Equal(re.Attempts, 2)
		is.Equal(re.Elapsed, 150*time.Millisecond) // stopped in the middle of the 200ms wait
		is.Equal(re.Last, errBoom)
		is.Equal(re.Context, cause)
		is.True(errors.Is(err, errBoom))
		is.True(errors.Is(err, cause))
	})
}

func TestDoCallerDeadlineIsTerminal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		calls := 0
		err := retry.Do(ctx, retry.Policy{MaxAttempts: 10, AttemptTimeout: 5 * time.Second}, func(ctx context.Context) error {
			calls++
			<-ctx.Done()
			return ctx.Err()
		})
		re := asError(t, err)
		is.Equal(calls, 1)
		is.Equal(re.Reason, retry.Canceled)
		is.True(errors.Is(err, context.DeadlineExceeded))
	})
}

func TestDoCancelDuringAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := retry.Do(ctx, retry.Policy{MaxAttempts: 10}, func(ctx context.Context) error {
			calls++
			cancel()
			return retry.Retryable(ctx.Err()) // even a retryable error stops
		})
		is.Equal(calls, 1)
		is.Equal(asError(t, err).Reason, retry.Canceled)
		is.True(errors.Is(err, context.Canceled))
	})
}

func TestDoAttemptTimeoutIsRetryable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var deadlines []time.Duration
		start := time.Now()
		p := retry.Policy{
			MaxAttempts:    3,
			AttemptTimeout: time.Second,
			Classify:       func(error) bool { return false }, // a timeout is retried anyway
		}
		err := retry.Do(context.Background(), p, func(ctx context.Context) error {
			dl, ok := ctx.Deadline()
			is.True(ok)
			deadlines = append(deadlines, dl.Sub(start))
			if len(deadlines) == 3 {
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		})
		is.NoErr(err)
		ms := time.Millisecond
		is.Equal(deadlines, []time.Duration{1000 * ms, 2100 * ms, 3300 * ms})
	})
}

func TestDoAttemptTimeoutExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		p := retry.Policy{MaxAttempts: 2, AttemptTimeout: time.Second}
		err := retry.Do(context.Background(), p, func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		re := asError(t, err)
		is.Equal(re.Reason, retry.Exhausted)
		is.Equal(re.Context, nil)
		is.True(errors.Is(err, context.DeadlineExceeded))
	})
}

func TestDoRetryAfterFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		r := newRecorder(
			&throttled{after: 5 * time.Second},    // floor above the 100ms schedule
			&throttled{after: time.Millisecond},   // floor below the 200ms schedule
			&throttled{after: time.Hour},          // capped by MaxInterval
			wrapped(&throttled{after: time.Hour}), // found through wrapping; capped by MaxElapsed
			nil,
		)
		p := retry.Policy{MaxAttempts: 10, MaxInterval: 10 * time.Second, MaxElapsed: 20 * time.Second}
		is.NoErr(retry.Do(context.Background(), p, r.fn))
		s := time.Second
		is.Equal(r.at, []time.Duration{0, 5 * s, 5*s + 200*time.Millisecond, 15*s + 200*time.Millisecond, 20 * s})
	})
}

func TestDoRetryAfterWithNoWaitPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		r := newRecorder(&throttled{after: time.Second}, nil)
		is.NoErr(retry.Do(context.Background(), retry.Policy{MaxAttempts: 2, InitialInterval: -1}, r.fn))
		is.Equal(r.at, []time.Duration{0, time.Second})
	})
}

// throttled is an error with a RetryAfter method, like an HTTP 429.
type throttled struct{ after time.Duration }

func (e *throttled) Error() string             { return "throttled" }
func (e *throttled) RetryAfter() time.Duration { return e.after }

func wrapped(err error) error { return errors.Join(errors.New("calling api"), err) }

func TestDoValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		calls := 0
		v, err := retry.DoValue(context.Background(), retry.Policy{MaxAttempts: 3}, func(context.Context) (string, error) {
			calls++
			if calls < 2 {
				return "partial", errBoom
			}
			return "done", nil
		})
		is.NoErr(err)
		is.Equal(v, "done")
		is.Equal(calls, 2)

		v, err = retry.DoValue(context.Background(), retry.Policy{MaxAttempts: 2}, func(context.Context) (string, error) {
			return "partial", errBoom
		})
		is.True(errors.Is(err, errBoom))
		is.Equal(v, "") // the zero value on failure
	})
}

func TestWrap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		type state struct{ tries []int }
		step := retry.Wrap(retry.Policy{MaxAttempts: 3}, func(ctx context.Context, s *state) error {
			s.tries = append(s.tries, retry.Attempt(ctx))
			if len(s.tries) < 3 {
				return errBoom
			}
			return nil
		})
		var s state
		is.NoErr(step(context.Background(), &s))
		is.Equal(s.tries, []int{1, 2, 3})

		// Each call is a fresh run of the policy.
		s = state{tries: []int{0, 0}}
		is.NoErr(step(context.Background(), &s))
		is.Equal(s.tries, []int{0, 0, 1})

		fail := retry.Wrap(retry.Policy{MaxAttempts: 2}, func(context.Context, *state) error { return errBoom })
		re := asError(t, fail(context.Background(), &s))
		is.Equal(re.Attempts, 2)
	})
}

func TestDoNonsensePolicyDoesNotPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.Policy{
			MaxAttempts:     4,
			InitialInterval: time.Duration(1 << 62),
			Multiplier:      -3,
			MaxInterval:     -time.Second,
			MaxElapsed:      -time.Second,
			Jitter:          retry.Jitter(200),
			JitterFactor:    -7,
			AttemptTimeout:  -time.Second,
		}
		r := newRecorder(errBoom)
		re := asError(t, retry.Do(context.Background(), p, r.fn))
		is := is.New(t)
		is.Equal(re.Reason, retry.Exhausted)
		is.Equal(re.Elapsed, 3*retry.DefaultMaxInterval)
	})
}

func TestDoConcurrentSharedPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.Policy{MaxAttempts: 3, Jitter: retry.FullJitter, Hooks: &retry.Hooks{}}
		done := make(chan error)
		for range 8 {
			go func() {
				done <- retry.Do(context.Background(), p, func(context.Context) error { return errBoom })
			}()
		}
		for range 8 {
			if err := <-done; !errors.Is(err, errBoom) {
				t.Errorf("got %v", err)
			}
		}
	})
}

func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	b.Run("FirstTrySuccess", func(b *testing.B) {
		b.ReportAllocs()
		p := retry.Policy{MaxAttempts: 3}
		for b.Loop() {
			if err := retry.Do(ctx, p, func(context.Context) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ThreeAttempts", func(b *testing.B) {
		b.ReportAllocs()
		p := retry.Policy{MaxAttempts: 3, InitialInterval: time.Microsecond}
		for b.Loop() {
			n := 0
			err := retry.Do(ctx, p, func(context.Context) error {
				if n++; n < 3 {
					return errBoom
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	// With a context that can be cancelled, a wait needs a timer of its
	// own: one per call of Do, reused by its later waits.
	b.Run("ThreeAttemptsCancellable", func(b *testing.B) {
		b.ReportAllocs()
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		p := retry.Policy{MaxAttempts: 3, InitialInterval: time.Microsecond}
		for b.Loop() {
			n := 0
			err := retry.Do(cctx, p, func(context.Context) error {
				if n++; n < 3 {
					return errBoom
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ThreeAttemptsNoWait", func(b *testing.B) {
		b.ReportAllocs()
		p := retry.Policy{MaxAttempts: 3, InitialInterval: -1}
		for b.Loop() {
			n := 0
			err := retry.Do(ctx, p, func(context.Context) error {
				if n++; n < 3 {
					return errBoom
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("TenAttemptsNoWait", func(b *testing.B) {
		b.ReportAllocs()
		p := retry.Policy{MaxAttempts: 10, InitialInterval: -1}
		for b.Loop() {
			n := 0
			err := retry.Do(ctx, p, func(context.Context) error {
				if n++; n < 10 {
					return errBoom
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DoValueFirstTrySuccess", func(b *testing.B) {
		b.ReportAllocs()
		p := retry.Policy{MaxAttempts: 3}
		for b.Loop() {
			if _, err := retry.DoValue(ctx, p, func(context.Context) (int, error) { return 1, nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("WrapFirstTrySuccess", func(b *testing.B) {
		b.ReportAllocs()
		type state struct{ n int }
		step := retry.Wrap(retry.Policy{MaxAttempts: 3}, func(_ context.Context, s *state) error { s.n++; return nil })
		var s state
		for b.Loop() {
			if err := step(ctx, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDoAllocations guards the allocation budget; the numbers themselves
// come from BenchmarkDo.
func TestDoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocations")
	}
	ctx := context.Background()
	p := retry.Policy{MaxAttempts: 10, InitialInterval: -1}
	ok := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(100, func() { _ = retry.Do(ctx, p, ok) }); n != 0 {
		t.Errorf("first-try success: %v allocations, want 0", n)
	}
	n := 0
	failTwice := func(context.Context) error {
		if n++; n < 3 {
			return errBoom
		}
		return nil
	}
	if a := testing.AllocsPerRun(100, func() { n = 0; _ = retry.Do(ctx, p, failTwice) }); a > 1 {
		t.Errorf("two retries without waits: %v allocations, want at most 1", a)
	}
}

func TestMisusePanics(t *testing.T) {
	for name, f := range map[string]func(){
		"nil fn": func() { _ = retry.Do(context.Background(), retry.Policy{}, nil) },
		"nil ctx": func() {
			//lint:ignore SA1012 testing misuse
			_ = retry.Do(nil, retry.Policy{}, func(context.Context) error { return nil })
		},
		"nil Wrap fn": func() { retry.Wrap[int](retry.Policy{}, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

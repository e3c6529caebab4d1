package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/sagakit/sagakit/retry"
)

// The examples use a negative InitialInterval, which means "no wait", so
// that they run at once; real policies keep the default 100ms or more.

func ExampleDo() {
	ctx := context.Background()
	p := retry.Policy{MaxAttempts: 5, InitialInterval: -1}
	err := retry.Do(ctx, p, func(ctx context.Context) error {
		n := retry.Attempt(ctx)
		fmt.Println("attempt", n)
		if n < 3 {
			return errors.New("connection reset")
		}
		return nil
	})
	fmt.Println("err:", err)
	// Output:
	// attempt 1
	// attempt 2
	// attempt 3
	// err: <nil>
}

func ExampleDo_gaveUp() {
	errNotFound := errors.New("order not found")
	p := retry.Policy{MaxAttempts: 5, InitialInterval: -1}
	err := retry.Do(context.Background(), p, func(context.Context) error {
		return retry.Permanent(errNotFound) // retrying cannot help
	})

	var re *retry.Error
	if errors.As(err, &re) {
		fmt.Println(re.Reason, "after", re.Attempts, "attempt")
	}
	fmt.Println(errors.Is(err, errNotFound))
	// Output:
	// unretryable after 1 attempt
	// true
}

func ExampleDoValue() {
	calls := 0
	p := retry.Policy{MaxAttempts: 3, InitialInterval: -1}
	balance, err := retry.DoValue(context.Background(), p, func(context.Context) (int, error) {
		if calls++; calls == 1 {
			return 0, errors.New("timeout")
		}
		return 42, nil
	})
	fmt.Println(balance, err, calls)
	// Output: 42 <nil> 2
}

func ExampleWrap() {
	type Trip struct{ HotelBooked bool }

	bookHotel := func(ctx context.Context, t *Trip) error {
		if retry.Attempt(ctx) == 1 {
			return errors.New("hotel API unavailable")
		}
		t.HotelBooked = true
		return nil
	}
	// The wrapped action has the same shape and can be given to a saga step.
	action := retry.Wrap(retry.Policy{MaxAttempts: 3, InitialInterval: -1}, bookHotel)

	var trip Trip
	err := action(context.Background(), &trip)
	fmt.Println(trip.HotelBooked, err)
	// Output: true <nil>
}

func ExamplePolicy_Delay() {
	p := retry.Policy{InitialInterval: time.Second, MaxInterval: 10 * time.Second}
	for attempt := 1; attempt <= 5; attempt++ {
		fmt.Printf("after attempt %d: wait %v\n", attempt, p.Delay(attempt, 0, nil))
	}
	// Output:
	// after attempt 1: wait 1s
	// after attempt 2: wait 2s
	// after attempt 3: wait 4s
	// after attempt 4: wait 8s
	// after attempt 5: wait 10s
}

func ExamplePolicy_classify() {
	p := retry.Policy{
		MaxAttempts:     3,
		InitialInterval: -1,
		// Retry everything except permission errors.
		Classify: func(err error) bool { return !errors.Is(err, fs.ErrPermission) },
	}
	calls := 0
	err := retry.Do(context.Background(), p, func(context.Context) error {
		calls++
		return fmt.Errorf("write ledger: %w", fs.ErrPermission)
	})
	var re *retry.Error
	errors.As(err, &re)
	fmt.Println(calls, re.Reason, re.Last)
	// Output: 1 unretryable write ledger: permission denied
}

func ExampleHooks() {
	p := retry.Policy{
		MaxAttempts:     3,
		InitialInterval: -1,
		Hooks: &retry.Hooks{
			OnRetryScheduled: func(_ context.Context, attempt int, err error, delay time.Duration) {
				fmt.Printf("attempt %d failed (%v), retrying in %v\n", attempt, err, delay)
			},
			OnGaveUp: func(_ context.Context, err *retry.Error) {
				fmt.Printf("gave up: %v after %d attempts\n", err.Reason, err.Attempts)
			},
		},
	}
	_ = retry.Do(context.Background(), p, func(context.Context) error { return errors.New("503") })
	// Output:
	// attempt 1 failed (503), retrying in 0s
	// attempt 2 failed (503), retrying in 0s
	// gave up: exhausted after 3 attempts
}

func ExampleError() {
	ctx, cancel := context.WithCancel(context.Background())
	lastErr := errors.New("broker unreachable")
	err := retry.Do(ctx, retry.Policy{MaxAttempts: 10, InitialInterval: -1}, func(context.Context) error {
		cancel() // the caller gives up while the attempt runs
		return lastErr
	})
	var re *retry.Error
	errors.As(err, &re)
	fmt.Println(re.Reason, re.Attempts)
	fmt.Println(errors.Is(err, lastErr), errors.Is(err, context.Canceled))
	// Output:
	// canceled 1
	// true true
}

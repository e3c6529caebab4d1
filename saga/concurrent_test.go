package saga_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/saga"
)

// One Saga, many concurrent runs, each over its own state: run with -race.
func TestConcurrentRunsShareOneSaga(t *testing.T) {
	is := is.New(t)
	type acct struct{ balance, fee int }
	sg := saga.New[acct]().
		WithHooks(&saga.Hooks{OnStepSuccess: nil}).
		Step("debit", func(_ context.Context, a *acct) error { a.balance -= 10; return nil },
			func(_ context.Context, a *acct) error { a.balance += 10; return nil }).
		Step("fee", func(_ context.Context, a *acct) error {
			if a.balance < 0 {
				return errBoom
			}
			a.fee = 1
			return nil
		}, nil).
		Build()
	const n = 64
	states := make([]acct, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		states[i].balance = i % 20 // half of them go negative
		wg.Go(func() { _, errs[i] = sg.Run(context.Background(), &states[i]) })
	}
	wg.Wait()
	for i := range n {
		if i%20 < 10 {
			is.True(errors.Is(errs[i], errBoom))
			is.Equal(states[i].balance, i%20) // compensated
		} else {
			is.NoErr(errs[i])
			is.Equal(states[i].balance, i%20-10)
		}
	}
}

package graph_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/internal/graph"
)

// plan compiles steps named by the keys of deps, in the order of names.
func plan(t *testing.T, names []string, deps map[string][]string) *builder.Plan {
	t.Helper()
	decls := make([]builder.Decl, len(names))
	for k, n := range names {
		decls[k] = builder.Decl{Name: n, After: deps[n]}
	}
	p, err := builder.Compile(decls)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ErrStop stops new starts and leaves the running steps alone: their
// context does not end.
func TestStopLeavesRunningSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		p := plan(t, []string{"slow", "stop", "later"}, map[string][]string{"later": {"stop"}})
		var mu sync.Mutex
		ran := map[string]bool{}
		var slowErr error
		slowStarted := make(chan struct{})
		ok := graph.Forward(context.Background(), p, 0, func(ctx context.Context, i int) error {
			name := p.Decl(i).Name
			mu.Lock()
			ran[name] = true
			mu.Unlock()
			switch name {
			case "slow":
				close(slowStarted)
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
					slowErr = context.Cause(ctx)
				}
				return slowErr
			case "stop":
				<-slowStarted
				return graph.ErrStop
			}
			return nil
		})
		is.True(!ok)
		is.NoErr(slowErr)      // the running step was not cancelled
		is.True(ran["slow"])   // it ran to its end
		is.True(!ran["later"]) // nothing started after the stop
	})
}

// A failure cancels the running steps with the failure as cause.
func TestFailureCancelsRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		boom := errors.New("boom")
		p := plan(t, []string{"slow", "fail"}, nil)
		var cause error
		ok := graph.Forward(context.Background(), p, 0, func(ctx context.Context, i int) error {
			if p.Decl(i).Name == "fail" {
				time.Sleep(time.Millisecond)
				return boom
			}
			<-ctx.Done()
			cause = context.Cause(ctx)
			return cause
		})
		is.True(!ok)
		is.True(errors.Is(cause, boom))
	})
}

// Backward undoes dependents first and only the steps it is given.
func TestBackwardOrder(t *testing.T) {
	is := is.New(t)
	p := plan(t, []string{"a", "b", "c", "never"}, map[string][]string{"b": {"a"}, "c": {"b"}, "never": {"c"}})
	ran := graph.Ran(p, func(i int) bool { return p.Decl(i).Name != "never" })
	var got []string
	var mu sync.Mutex
	graph.Backward(p, 0, ran, func(i int) {
		mu.Lock()
		got = append(got, p.Decl(i).Name)
		mu.Unlock()
	})
	is.Equal(got, []string{"c", "b", "a"})
}

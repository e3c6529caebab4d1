package graph_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/internal/graph"
)

// Under a limit, the nodes queued behind a full walk still run, at most
// limit at a time, forward and backward (kills a mutant `make mutate`
// found alive, see RELIABILITY.md).
func TestLimitDrainsTheQueue(t *testing.T) {
	is := is.New(t)
	p := plan(t, []string{"a", "b", "c", "d"}, nil)
	var mu sync.Mutex
	active, most := 0, 0
	ran := map[int]bool{}
	enter := func(i int) {
		mu.Lock()
		defer mu.Unlock()
		ran[i] = true
		active++
		most = max(most, active)
	}
	leave := func() {
		mu.Lock()
		active--
		mu.Unlock()
	}
	ok := graph.Forward(context.Background(), p, 1, func(ctx context.Context, i int) error {
		enter(i)
		defer leave()
		return nil
	})
	is.True(ok)
	is.Equal(len(ran), 4) // every queued node ran
	is.Equal(most, 1)     // one at a time

	clear(ran)
	most = 0
	graph.Backward(p, 1, []int{0, 1, 2, 3}, func(i int) {
		enter(i)
		defer leave()
	})
	is.Equal(len(ran), 4)
	is.Equal(most, 1)
}

// The limit holds while nodes overlap in time: with a limit of 1, three
// independent one-second nodes take three seconds.
func TestLimitHoldsUnderOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		p := plan(t, []string{"a", "b", "c"}, nil)
		start := time.Now()
		ok := graph.Forward(context.Background(), p, 1, func(ctx context.Context, i int) error {
			time.Sleep(time.Second)
			return nil
		})
		is.True(ok)
		is.Equal(time.Since(start), 3*time.Second)
	})
}

// A slot freed by a node that left the walk is free again: with a limit
// of 2, "x" ends at once, and "b" and "c", released together by "a",
// then run side by side.
func TestLimitFreesSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		p := plan(t, []string{"a", "x", "b", "c"}, map[string][]string{"b": {"a"}, "c": {"a"}})
		start := time.Now()
		ok := graph.Forward(context.Background(), p, 2, func(ctx context.Context, i int) error {
			if p.Decl(i).Name != "x" {
				time.Sleep(time.Second)
			}
			return nil
		})
		is.True(ok)
		is.Equal(time.Since(start), 2*time.Second) // a, then b and c together
	})
}

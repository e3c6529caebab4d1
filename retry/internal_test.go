package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"
)

func TestWalkOrder(t *testing.T) {
	a, b, c, d := errors.New("a"), errors.New("b"), errors.New("c"), errors.New("d")
	tree := fmt.Errorf("top: %w", errors.Join(a, fmt.Errorf("mid: %w", b), errors.Join(c, d)))
	var got []string
	stopped := walk(tree, func(err error) bool {
		got = append(got, err.Error())
		return err == c
	})
	is.New(t).True(stopped)
	want := []string{tree.Error(), tree.(interface{ Unwrap() error }).Unwrap().Error(), "a", "mid: b", "b", "c\nd", "c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("visit order (-want +got):\n%s", diff)
	}
	is.New(t).True(!walk(nil, func(error) bool { return true }))
}

func TestMarkAndRetryAfterAllocateNothing(t *testing.T) {
	err := fmt.Errorf("x: %w", errors.Join(errors.New("a"), Retryable(errors.New("b"))))
	n := testing.AllocsPerRun(100, func() {
		if mark(err) != markedRetryable || retryAfter(err) != 0 {
			t.Fatal("wrong classification")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}

func TestSleeperReusesTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var s sleeper
		start := time.Now()
		is.NoErr(s.sleep(context.Background(), time.Second))
		first := s.t
		is.NoErr(s.sleep(context.Background(), 2*time.Second))
		is.Equal(s.t, first)
		is.Equal(time.Since(start), 3*time.Second)

		// Stopped early, the timer leaves no stale tick behind.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		is.Equal(s.sleep(ctx, time.Hour), context.DeadlineExceeded)
		start = time.Now()
		is.NoErr(s.sleep(context.Background(), time.Second))
		is.Equal(time.Since(start), time.Second)
	})
}

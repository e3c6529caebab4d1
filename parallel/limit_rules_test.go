package parallel_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/parallel"
	"github.com/sagakit/sagakit/saga"
)

// Limit caps compensations too: four independent steps compensated after
// a step that needs all of them fails, at most limit at a time.
func TestLimitCapsCompensations(t *testing.T) {
	for _, tc := range []struct {
		limit int
		peak  int32
		took  time.Duration
	}{{2, 2, 2 * time.Second}, {0, 4, time.Second}} {
		synctest.Test(t, func(t *testing.T) {
			is := is.New(t)
			var now, peak atomic.Int32
			comp := func(context.Context, *journal) error {
				if n := now.Add(1); n > peak.Load() {
					peak.Store(n)
				}
				time.Sleep(time.Second)
				now.Add(-1)
				return nil
			}
			b := saga.New[journal]()
			names := []string{"a", "b", "c", "d"}
			for _, name := range names {
				b.Step(name, work(name, 0, nil), comp)
			}
			b.Step("f", work("f", 0, errBoom), nil, saga.After(names...))
			var opts []parallel.Option
			if tc.limit > 0 {
				opts = append(opts, parallel.Limit(tc.limit))
			}
			start := time.Now()
			rep, err := parallel.Run(context.Background(), b.Build(), &journal{}, opts...)
			is.True(errors.Is(err, errBoom))
			is.Equal(rep.Status, saga.StatusCompensated)
			is.Equal(peak.Load(), tc.peak) // limit compensations at a time
			is.Equal(time.Since(start), tc.took)
		})
	}
}

// A failed step that opts in (CompensateIfFailed) is compensated, before
// the steps it runs after; a sibling cancelled by the failure that opts
// in is compensated too, one that does not is not; a failed step that
// does not opt in is not.
func TestOptedInFailedStepsCompensated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		sg := saga.New[journal]().
			Step("root", work("root", 0, nil), undo("root")).
			Step("fail", work("fail", time.Second, errBoom), undo("fail"), saga.After("root"), saga.CompensateIfFailed()).
			Step("slowIn", work("slowIn", time.Hour, nil), undo("slowIn"), saga.After("root"), saga.CompensateIfFailed()).
			Step("slowOut", work("slowOut", time.Hour, nil), undo("slowOut"), saga.After("root")).
			Build()
		var st journal
		rep, err := parallel.Run(context.Background(), sg, &st)
		is.True(errors.Is(err, errBoom))
		is.Equal(rep.Status, saga.StatusCompensated)
		ev := st.list()
		for _, e := range []string{"undo fail", "undo slowIn", "undo root"} {
			is.True(st.index(e) >= 0) // compensated
		}
		is.True(st.index("undo slowOut") < 0) // cancelled, not opted in
		is.True(st.index("undo fail") < st.index("undo root"))
		is.True(st.index("undo slowIn") < st.index("undo root"))
		is.Equal(len(ev), 4+2+3) // 4 do, 2 cancelled, 3 undo
		want := map[string]saga.StepStatus{
			"root": saga.StepCompensated, "fail": saga.StepCompensated,
			"slowIn": saga.StepCompensated, "slowOut": saga.StepCancelled,
		}
		for name, status := range want {
			s, _ := rep.Step(name)
			is.Equal(s.Status, status) // name's status
		}
	})
}

// A failed step that does not opt in is not compensated by the parallel
// runner, as by the sequential one.
func TestFailedStepNotCompensated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		sg := saga.New[journal]().
			Step("a", work("a", 0, nil), undo("a")).
			Step("fail", work("fail", time.Second, errBoom), undo("fail"), saga.After("a")).
			Build()
		var st journal
		rep, err := parallel.Run(context.Background(), sg, &st)
		is.True(errors.Is(err, errBoom))
		is.Equal(st.list(), []string{"do a", "do fail", "undo a"})
		s, _ := rep.Step("fail")
		is.Equal(s.Status, saga.StepFailed)
	})
}

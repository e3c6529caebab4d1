package sagatest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/parallel"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

// spy is a testing.TB that keeps the errors reported to it.
type spy struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (s *spy) Helper() {}

func (s *spy) Errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

func (s *spy) reported() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.errs, "\n")
}

type box struct{ N int }

func ok(context.Context, *box) error { return nil }

// chain is a saga of three steps, all wrapped by rec.
func chain(rec *sagatest.Recorder[box], opts ...saga.StepOption) *saga.Saga[box] {
	b := saga.New[box]().Name("chain")
	for _, name := range []string{"a", "b", "c"} {
		b.Step(name, rec.Action(name, ok), rec.Compensation(name, ok), opts...)
	}
	return b.Build()
}

func calls(rec *sagatest.Recorder[box]) []string {
	var out []string
	for _, c := range rec.Calls() {
		out = append(out, c.String())
	}
	return out
}

func TestFailAtCompensatesInReverse(t *testing.T) {
	is := is.New(t)
	var rec sagatest.Recorder[box]
	sg := chain(&rec)
	declined := errors.New("declined")
	rec.FailAt("c", declined)
	rep, err := sg.Run(saga.WithRunID(context.Background(), "r-1"), &box{})
	is.True(errors.Is(err, declined))
	is.Equal(rep.Status, saga.StatusCompensated)
	is.Equal(calls(&rec), []string{"a", "b", "c: declined", "undo b", "undo a"})
	c := rec.Calls()[2]
	is.True(c.Injected)
	is.Equal(c.RunID, "r-1")
	is.Equal(c.Key, "") // not a durable run
	rec.AssertCompensated(t, sg, "r-1")

	rec.Heal("c") // the next run succeeds
	_, err = sg.Run(saga.WithRunID(context.Background(), "r-2"), &box{})
	is.NoErr(err)
}

func TestPanicAt(t *testing.T) {
	is := is.New(t)
	var rec sagatest.Recorder[box]
	sg := chain(&rec)
	rec.PanicAt("b", "boom")
	rep, err := sg.Run(saga.WithRunID(context.Background(), "r-1"), &box{})
	var pe *saga.PanicError
	is.True(errors.As(err, &pe))
	is.Equal(pe.Value, "boom")
	is.Equal(rep.Status, saga.StatusCompensated)
	is.Equal(calls(&rec), []string{"a", "b: panic: boom", "undo a"})
	is.True(errors.As(rec.Calls()[1].Err, &pe))
	rec.AssertCompensated(t, sg, "r-1")
}

// A panic of the wrapped function itself is recorded and reaches the saga.
func TestRecorderSeesPanics(t *testing.T) {
	is := is.New(t)
	var rec sagatest.Recorder[box]
	sg := saga.New[box]().
		Step("a", rec.Action("a", ok), rec.Compensation("a", ok)).
		Step("b", rec.Action("b", func(context.Context, *box) error { panic(errors.New("nil map")) }), nil).
		Build()
	_, err := sg.Run(saga.WithRunID(context.Background(), "r-1"), &box{})
	is.True(err != nil && strings.Contains(err.Error(), "nil map"))
	c := rec.Calls()[1]
	is.True(!c.Injected)
	is.Equal(c.String(), "b: panic: nil map")
	rec.AssertCompensated(t, sg, "r-1")
}

func TestHangAtTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var rec sagatest.Recorder[box]
		sg := chain(&rec, saga.Timeout(time.Second))
		rec.HangAt("b")
		start := time.Now()
		rep, err := sg.Run(saga.WithRunID(context.Background(), "r-1"), &box{})
		is.True(errors.Is(err, context.DeadlineExceeded))
		is.Equal(time.Since(start), time.Second)
		is.Equal(rep.Status, saga.StatusCompensated)
		is.Equal(calls(&rec), []string{"a", "b: context deadline exceeded", "undo a"})
		rec.AssertCompensated(t, sg, "r-1")
	})
}

func TestDelayAt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var rec sagatest.Recorder[box]
		sg := chain(&rec, saga.Timeout(time.Second))
		rec.DelayAt("b", 500*time.Millisecond) // slow, in time
		_, err := sg.Run(context.Background(), &box{})
		is.NoErr(err)
		is.True(!rec.Calls()[1].Injected) // b was called

		rec.DelayAt("b", 2*time.Second) // too slow
		rep, err := sg.Run(context.Background(), &box{})
		is.True(errors.Is(err, context.DeadlineExceeded))
		rec.AssertCompensated(t, sg, rep.RunID)
	})
}

func TestFailCompensationAt(t *testing.T) {
	is := is.New(t)
	var rec sagatest.Recorder[box]
	sg := chain(&rec, saga.CompensationRetry(noRetry))
	rec.FailAt("c", errors.New("declined"))
	rec.FailCompensationAt("a", errors.New("offline"))
	rep, err := sg.Run(saga.WithRunID(context.Background(), "r-1"), &box{})
	is.True(errors.Is(err, saga.ErrCompensationFailed))
	is.Equal(rep.Status, saga.StatusCompensationFailed)

	s := &spy{TB: t}
	rec.AssertCompensated(s, sg, "r-1")
	is.Equal(s.reported(), `sagatest: run r-1: step "a" took effect (r-1/a) and was not compensated`)
}

// The assertion catches a compensation missing, one run twice, and one
// out of order, and a run it never saw.
func TestAssertCompensatedCatches(t *testing.T) {
	is := is.New(t)
	var rec sagatest.Recorder[box]
	var inRun context.Context // a context of the run, for a call of our own
	undoB := rec.Compensation("b", ok)
	sg := saga.New[box]().Name("chain").
		Step("a", rec.Action("a", ok), rec.Compensation("a", ok)).
		Step("b", rec.Action("b", func(ctx context.Context, _ *box) error { inRun = ctx; return nil }), undoB).
		Step("c", rec.Action("c", ok), rec.Compensation("c", ok)).
		Build()
	// A runner of its own that undoes a before b, and forgets c.
	x, err := sg.Start(saga.WithRunID(context.Background(), "r-1"), &box{})
	is.NoErr(err)
	for i := range 3 {
		is.NoErr(x.Act(x.Context(), i))
	}
	is.True(x.Unwind(errors.New("stop")))
	is.NoErr(x.Compensate(0))
	is.NoErr(x.Compensate(1))
	_, _ = x.Finish()
	is.NoErr(undoB(inRun, &box{})) // and b once more

	s := &spy{TB: t}
	rec.AssertCompensated(s, sg, "r-1")
	is.Equal(s.reported(), strings.Join([]string{
		`sagatest: run r-1: step "b" was compensated 2 times (r-1/b)`,
		`sagatest: run r-1: step "c" took effect (r-1/c) and was not compensated`,
		`sagatest: run r-1: step "a" was compensated before step "b", which ran after it`,
	}, "\n"))

	s = &spy{TB: t}
	rec.AssertCompensated(s, sg, "r-2")
	is.Equal(s.reported(), "sagatest: run r-2: no call recorded")
}

// In a graph, independent steps may be undone in any order; a step that
// ran after another is undone first.
func TestAssertCompensatedGraph(t *testing.T) {
	is := is.New(t)
	var rec sagatest.Recorder[box]
	// a and b are independent; c runs after a.
	sg := saga.New[box]().Name("graph").
		Step("a", rec.Action("a", ok), rec.Compensation("a", ok)).
		Step("b", rec.Action("b", ok), rec.Compensation("b", ok)).
		Step("c", rec.Action("c", ok), rec.Compensation("c", ok), saga.After("a")).
		Build()
	x, err := sg.Start(saga.WithRunID(context.Background(), "r-1"), &box{})
	is.NoErr(err)
	for i := range 3 {
		is.NoErr(x.Act(x.Context(), i))
	}
	is.True(x.Unwind(errors.New("stop")))
	for _, i := range []int{0, 1, 2} { // a before c: wrong; b before or after the others: fine
		is.NoErr(x.Compensate(i))
	}
	_, _ = x.Finish()
	s := &spy{TB: t}
	rec.AssertCompensated(s, sg, "r-1")
	is.Equal(s.reported(), `sagatest: run r-1: step "a" was compensated before step "c", which ran after it`)

	// The parallel runner gets it right.
	rec.FailAt("c", errors.New("declined"))
	rep, _ := parallel.Run(context.Background(), sg, &box{})
	is.Equal(rep.Status, saga.StatusCompensated)
	rec.AssertCompensated(t, sg, rep.RunID)
}

func TestRecorderMisuse(t *testing.T) {
	var rec sagatest.Recorder[box]
	for name, f := range map[string]func(){
		"nil action":    func() { rec.Action("a", nil) },
		"nil error":     func() { rec.FailAt("a", nil) },
		"nil undo err":  func() { rec.FailCompensationAt("a", nil) },
		"no delay":      func() { rec.DelayAt("a", 0) },
		"no crash":      func() { sagatest.NewCrashingStore(nil) },
		"no crash kind": func() { sagatest.NewCrashingStore(memStore()).CrashBefore("", "a") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if v := recover(); v == nil || !strings.HasPrefix(fmt.Sprint(v), "sagatest: ") {
					t.Errorf("want a sagatest panic, got %v", v)
				}
			}()
			f()
		})
	}
	if rec.Compensation("a", nil) != nil {
		t.Error("a nil compensation must stay nil")
	}
}

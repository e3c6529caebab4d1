package parallel_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/parallel"
	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

// journal is a test state: what ran, in order, safe for concurrent steps.
type journal struct {
	mu     sync.Mutex
	events []string
	seen   map[string]int // a value each step saw at its start
	value  int
}

func (j *journal) add(e string) {
	j.mu.Lock()
	j.events = append(j.events, e)
	j.mu.Unlock()
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.events)
}

func (j *journal) index(e string) int { return slices.Index(j.list(), e) }

var errBoom = errors.New("boom")

// work returns an action that logs, takes d, and returns err; it stops
// early with the context's cause when its context ends.
func work(name string, d time.Duration, err error) func(context.Context, *journal) error {
	return func(ctx context.Context, j *journal) error {
		j.add("do " + name)
		select {
		case <-time.After(d):
			return err
		case <-ctx.Done():
			j.add("cancelled " + name)
			return context.Cause(ctx)
		}
	}
}

func undo(name string) func(context.Context, *journal) error {
	return func(_ context.Context, j *journal) error { j.add("undo " + name); return nil }
}

// Steps without dependencies start at once, from the same state.
func TestIndependentStepsRunConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var started atomic.Int32
		step := func(ctx context.Context, j *journal) error {
			started.Add(1)
			time.Sleep(time.Second)
			return nil
		}
		sg := saga.New[journal]().
			Step("a", step, nil).Step("b", step, nil).Step("c", step, nil).
			Build()
		start := time.Now()
		var st journal
		rep, err := parallel.Run(context.Background(), sg, &st)
		is.NoErr(err)
		is.Equal(started.Load(), int32(3))
		is.Equal(time.Since(start), time.Second) // not 3s: they overlapped
		for _, s := range rep.Steps {
			is.True(s.Start.Equal(start)) // overlapping times in the report
			is.Equal(s.Duration(), time.Second)
		}
		is.Equal(rep.Status, saga.StatusSucceeded)
	})
}

// talepy: all concurrent steps receive the same starting state.
func TestSameStartingState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		read := func(name string) func(context.Context, *journal) error {
			return func(_ context.Context, j *journal) error {
				j.mu.Lock()
				j.seen[name] = j.value
				j.mu.Unlock()
				time.Sleep(time.Second)
				j.mu.Lock()
				j.value++
				j.mu.Unlock()
				return nil
			}
		}
		sg := saga.New[journal]().Step("a", read("a"), nil).Step("b", read("b"), nil).Step("c", read("c"), nil).Build()
		st := journal{seen: map[string]int{}, value: 7}
		_, err := parallel.Run(context.Background(), sg, &st)
		is.NoErr(err)
		is.Equal(st.seen, map[string]int{"a": 7, "b": 7, "c": 7})
		is.Equal(st.value, 10)
	})
}

// Dependencies are respected: a step starts after all it runs after.
func TestDependenciesRespected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		sg := saga.New[journal]().
			Step("email", work("email", time.Second, nil), nil, saga.After("flight", "hotel")).
			Step("debit", work("debit", time.Second, nil), nil).
			Step("flight", work("flight", 2*time.Second, nil), nil, saga.After("debit")).
			Step("hotel", work("hotel", time.Second, nil), nil, saga.After("debit")).
			Build()
		start := time.Now()
		var st journal
		rep, err := parallel.Run(context.Background(), sg, &st)
		is.NoErr(err)
		is.Equal(time.Since(start), 4*time.Second) // debit 1s, flight 2s (hotel overlaps), email 1s
		is.Equal(st.list()[0], "do debit")
		is.Equal(st.list()[3], "do email")
		email, _ := rep.Step("email")
		is.True(email.Start.Equal(start.Add(3 * time.Second)))
	})
}

// One failure cancels the siblings, and every completed step is
// compensated, those that completed after the failure too.
func TestFailureCompensatesOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		sg := saga.New[journal]().
			Step("debit", work("debit", time.Second, nil), undo("debit")).
			Step("flight", work("flight", time.Second, nil), undo("flight"), saga.After("debit")).
			Step("hotel", work("hotel", 2*time.Second, errBoom), undo("hotel"), saga.After("debit")).
			Step("car", work("car", time.Hour, nil), undo("car"), saga.After("debit")).
			Step("email", work("email", time.Second, nil), undo("email"), saga.After("flight", "hotel", "car")).
			Build()
		var st journal
		rep, err := parallel.Run(context.Background(), sg, &st)
		is.True(errors.Is(err, errBoom))
		var se *saga.Error
		is.True(errors.As(err, &se))
		is.Equal(se.Step, "hotel")
		is.True(st.index("cancelled car") >= 0) // the sibling's context ended
		is.True(errors.Is(err, errBoom))
		is.Equal(rep.Status, saga.StatusCompensated)
		for name, want := range map[string]saga.StepStatus{
			"debit": saga.StepCompensated, "flight": saga.StepCompensated, "hotel": saga.StepFailed,
			"car": saga.StepCancelled, "email": saga.StepPending,
		} {
			s, _ := rep.Step(name)
			is.Equal(s.Status, want)
		}
		is.True(st.index("undo flight") < st.index("undo debit")) // dependents first
		is.Equal(st.index("undo hotel"), -1)
		is.Equal(st.index("undo email"), -1)
		is.Equal(st.index("do email"), -1) // never started
	})
}

// The sibling's context carries the failure as its cause.
func TestSiblingsSeeCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var cause error
		sg := saga.New[journal]().
			Step("slow", func(ctx context.Context, _ *journal) error {
				<-ctx.Done()
				cause = context.Cause(ctx)
				return cause
			}, nil).
			Step("fail", work("fail", time.Second, errBoom), nil).
			Build()
		_, err := parallel.Run(context.Background(), sg, &journal{})
		is.True(errors.Is(err, errBoom))
		is.True(errors.Is(cause, errBoom))
	})
}

// Every failure is reported, not just the first.
func TestAllFailuresReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		errA, errB := errors.New("a failed"), errors.New("b failed")
		ignore := func(d time.Duration, err error) func(context.Context, *journal) error {
			return func(context.Context, *journal) error { time.Sleep(d); return err } // does not listen
		}
		sg := saga.New[journal]().
			Step("a", ignore(time.Second, errA), nil).
			Step("b", ignore(2*time.Second, errB), nil).
			Step("c", work("c", 3*time.Second, nil), undo("c")).
			Build()
		var st journal
		rep, err := parallel.Run(context.Background(), sg, &st)
		is.True(errors.Is(err, errA))
		is.True(errors.Is(err, errB))
		var se *saga.Error
		is.True(errors.As(err, &se))
		is.Equal(se.Step, "a")
		var others []string
		for _, o := range se.Others {
			var other *saga.StepError
			is.True(errors.As(o, &other))
			others = append(others, other.Step)
		}
		is.Equal(others, []string{"b"}) // b failed on its own, later
		c, _ := rep.Step("c")
		is.Equal(c.Status, saga.StepCancelled) // c ended with its context: not a failure of its own
		is.Equal(rep.Status, saga.StatusCompensated)
	})
}

// Dependents are compensated before what they depend on; independent
// ones at the same time.
func TestCompensationOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		slowUndo := func(name string) func(context.Context, *journal) error {
			return func(_ context.Context, j *journal) error {
				j.add("undo " + name)
				time.Sleep(time.Second)
				j.add("undone " + name)
				return nil
			}
		}
		sg := saga.New[journal]().
			Step("debit", work("debit", time.Second, nil), slowUndo("debit")).
			Step("flight", work("flight", time.Second, nil), slowUndo("flight"), saga.After("debit")).
			Step("hotel", work("hotel", time.Second, nil), slowUndo("hotel"), saga.After("debit")).
			Step("pay", work("pay", time.Second, errBoom), nil, saga.After("flight", "hotel")).
			Build()
		var st journal
		start := time.Now()
		rep, err := parallel.Run(context.Background(), sg, &st)
		is.True(errors.Is(err, errBoom))
		is.True(st.index("undone flight") < st.index("undo debit"))
		is.True(st.index("undone hotel") < st.index("undo debit"))
		is.True(st.index("undo hotel") < st.index("undone flight")) // concurrently
		is.Equal(time.Since(start), 5*time.Second)                  // 3s forward, 2s back
		f, _ := rep.Step("flight")
		h, _ := rep.Step("hotel")
		is.True(f.Compensation.Start.Equal(h.Compensation.Start))
	})
}

func TestLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		var now, peak atomic.Int32
		step := func(context.Context, *journal) error {
			if n := now.Add(1); n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(time.Second)
			now.Add(-1)
			return nil
		}
		b := saga.New[journal]()
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			b.Step(name, step, nil)
		}
		start := time.Now()
		_, err := parallel.Run(context.Background(), b.Build(), &journal{}, parallel.Limit(2))
		is.NoErr(err)
		is.Equal(peak.Load(), int32(2))
		is.Equal(time.Since(start), 3*time.Second)
	})
}

func TestCallerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(1500*time.Millisecond, cancel)
		sg := saga.New[journal]().
			Step("a", work("a", time.Second, nil), undo("a")).
			Step("b", work("b", time.Second, nil), undo("b"), saga.After("a")).
			Step("c", work("c", time.Second, nil), undo("c"), saga.After("b")).
			Build()
		var st journal
		rep, err := parallel.Run(ctx, sg, &st)
		is.True(errors.Is(err, context.Canceled))
		is.Equal(st.list(), []string{"do a", "do b", "cancelled b", "undo a"})
		is.Equal(rep.Status, saga.StatusCompensated)
	})
}

// Panics, retries and the pivot behave as in the sequential runner.
func TestPanicRetryPivot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		tries := 0
		sg := saga.New[journal]().
			Step("a", work("a", time.Second, nil), undo("a")).
			Step("b", func(context.Context, *journal) error {
				if tries++; tries < 3 {
					return errBoom
				}
				return nil
			}, undo("b"), saga.Retry(retry.Policy{MaxAttempts: 3, InitialInterval: time.Second})).
			Step("c", func(context.Context, *journal) error { time.Sleep(5 * time.Second); panic("oops") }, nil).
			Build()
		var st journal
		rep, err := parallel.Run(context.Background(), sg, &st)
		var pe *saga.PanicError
		is.True(errors.As(err, &pe))
		b, _ := rep.Step("b")
		is.Equal(b.Attempts, 3)
		is.Equal(b.Status, saga.StepCompensated)
		is.Equal(rep.Status, saga.StatusCompensated)

		piv := saga.New[journal]().
			Step("charge", work("charge", time.Second, nil), undo("charge"), saga.Pivot()).
			Step("ship", work("ship", time.Second, errBoom), nil, saga.Retriable(),
				saga.Retry(retry.Policy{MaxAttempts: 2, InitialInterval: time.Second})).
			Step("mail", work("mail", time.Second, nil), nil, saga.Retriable()).
			Build()
		var st2 journal
		rep, err = parallel.Run(context.Background(), piv, &st2)
		is.True(errors.Is(err, errBoom))
		is.Equal(rep.Status, saga.StatusFailed) // past the pivot: nothing compensated
		is.Equal(st2.index("undo charge"), -1)
	})
}

// One Saga, run concurrently by the sequential and the parallel runners.
func TestSameSagaBothRunners(t *testing.T) {
	is := is.New(t)
	sg := saga.New[journal]().
		Step("a", work("a", 0, nil), undo("a")).
		Step("b", work("b", 0, nil), undo("b"), saga.After("a")).
		Build()
	var wg sync.WaitGroup
	for k := range 20 {
		wg.Go(func() {
			var st journal
			var err error
			if k%2 == 0 {
				_, err = sg.Run(context.Background(), &st)
			} else {
				_, err = parallel.Run(context.Background(), sg, &st)
			}
			if err != nil || !slices.Equal(st.list(), []string{"do a", "do b"}) {
				t.Errorf("run %d: %v %v", k, err, st.list())
			}
		})
	}
	wg.Wait()
	is.True(!t.Failed())
}

func TestNilState(t *testing.T) {
	is := is.New(t)
	sg := saga.New[journal]().Step("a", work("a", 0, nil), nil).Build()
	rep, err := parallel.Run(context.Background(), sg, nil)
	is.True(errors.Is(err, saga.ErrNilState))
	is.Equal(rep.Status, saga.StatusFailed)
}

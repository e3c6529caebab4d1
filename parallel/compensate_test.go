package parallel_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/parallel"
	"github.com/sagakit/sagakit/saga"
)

// trace records, for every step, how often its action and compensation
// were called and when each began and ended, as positions in one
// sequence shared by all steps: no clock, only the order of events.
type trace struct {
	mu  sync.Mutex
	seq int
	act []calls
	cmp []calls
}

// calls is one step's record for its action or its compensation.
type calls struct {
	n          int // how many calls
	start, end int // sequence numbers of the last call; 0: never
	ok         bool
}

func newTrace(n int) *trace {
	return &trace{act: make([]calls, n), cmp: make([]calls, n)}
}

func (t *trace) begin(c []calls, i int) {
	t.mu.Lock()
	t.seq++
	c[i].n++
	c[i].start = t.seq
	t.mu.Unlock()
}

func (t *trace) end(c []calls, i int, ok bool) {
	t.mu.Lock()
	t.seq++
	c[i].end = t.seq
	c[i].ok = ok
	t.mu.Unlock()
}

// action returns step i's action: it fails with errBoom when fail is
// set, after waiting for delay or for its context to end.
func action(i int, fail bool, delay time.Duration) func(context.Context, *trace) error {
	return func(ctx context.Context, t *trace) error {
		t.begin(t.act, i)
		var err error
		if fail {
			err = fmt.Errorf("s%d: %w", i, errBoom) // its own failure, never another's cause
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-ctx.Done():
				}
			}
		}
		t.end(t.act, i, err == nil)
		return err
	}
}

// compensation returns step i's compensation. It yields in the middle, so
// that compensations that should not overlap get a chance to.
func compensation(i int) func(context.Context, *trace) error {
	return func(_ context.Context, t *trace) error {
		t.begin(t.cmp, i)
		runtime.Gosched()
		t.end(t.cmp, i, true)
		return nil
	}
}

// The reproduction of a step compensated twice: a's dependent b and a
// failing f run beside 2,000 independent steps. backward used to start a
// both from its initial scan and when b's compensation ended.
func TestCompensatedOnceAfterDependents(t *testing.T) {
	is := is.New(t)
	const wide = 2000
	b := saga.New[trace]().Step("a", action(0, false, 0), compensation(0))
	for i := range wide {
		b.Step("s"+strconv.Itoa(i), action(1+i, false, 0), compensation(1+i))
	}
	const ib, iff = wide + 1, wide + 2
	sg := b.Step("b", action(ib, false, 0), compensation(ib), saga.After("a")).
		Step("f", action(iff, true, 20*time.Millisecond), compensation(iff)).
		Build()
	for run := range 20 {
		tr := newTrace(wide + 3)
		rep, err := parallel.Run(context.Background(), sg, tr)
		is.True(errors.Is(err, errBoom))
		is.Equal(rep.Status, saga.StatusCompensated)
		for i, s := range rep.Steps {
			want := 0
			if s.Status == saga.StepCompensated {
				want = 1
			}
			if tr.cmp[i].n != want {
				t.Fatalf("run %d: step %s (%v) compensated %d times, want %d", run, s.Name, s.Status, tr.cmp[i].n, want)
			}
		}
		is.Equal(tr.cmp[iff].n, 0) // failed, not compensated
		if tr.cmp[ib].n == 1 && tr.cmp[0].start < tr.cmp[ib].end {
			t.Fatalf("run %d: a's compensation began (%d) before b's ended (%d)", run, tr.cmp[0].start, tr.cmp[ib].end)
		}
	}
}

// dag is a random saga: steps that run after random earlier ones, some of
// which fail, at once or after a short wait.
type dag struct {
	deps     [][]int
	fail     []bool
	ifFailed []bool // failing steps compensated anyway (CompensateIfFailed)
	sg       *saga.Saga[trace]
}

func randomDAG(r *rand.Rand, n int) *dag {
	d := &dag{deps: make([][]int, n), fail: make([]bool, n), ifFailed: make([]bool, n)}
	for range 1 + r.IntN(3) {
		d.fail[r.IntN(n)] = true
	}
	b := saga.New[trace]()
	for i := range n {
		var after []string
		if i > 0 {
			for range r.IntN(4) {
				j := r.IntN(i)
				if !slices.Contains(d.deps[i], j) {
					d.deps[i] = append(d.deps[i], j)
					after = append(after, "s"+strconv.Itoa(j))
				}
			}
		}
		opts := []saga.StepOption{saga.After(after...)}
		var delay time.Duration
		if d.fail[i] {
			if r.IntN(2) == 0 {
				delay = time.Duration(1+r.IntN(3)) * time.Millisecond
			}
			if r.IntN(3) == 0 {
				d.ifFailed[i] = true
				opts = append(opts, saga.CompensateIfFailed())
			}
		}
		b.Step("s"+strconv.Itoa(i), action(i, d.fail[i], delay), compensation(i), opts...)
	}
	d.sg = b.Build()
	return d
}

// On random graphs, with and without a limit: every step that ran is
// compensated exactly once (if it succeeded or opted in), one that did
// not run never is, each after all of its dependents that ran, and the
// report agrees; forward, each step ran at most once, after its
// dependencies succeeded.
func TestRandomGraphsCompensation(t *testing.T) {
	const n = 1000
	for seed := range uint64(8) {
		for _, limit := range []int{0, 1, 4, 32} {
			t.Run(fmt.Sprintf("seed=%d/limit=%d", seed, limit), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, 0x5a6a))
				d := randomDAG(r, n)
				for range 2 {
					checkRandomRun(t, d, limit)
				}
			})
		}
	}
}

func checkRandomRun(t *testing.T, d *dag, limit int) {
	t.Helper()
	is := is.New(t)
	n := len(d.deps)
	tr := newTrace(n)
	rep, err := parallel.Run(context.Background(), d.sg, tr, parallel.Limit(limit))
	is.True(errors.Is(err, errBoom))
	is.Equal(rep.Status, saga.StatusCompensated)

	// What each step should show, from what its action did.
	var got, want []string
	for i := range n {
		a, c := tr.act[i], tr.cmp[i]
		status := saga.StepPending
		comps := 0
		switch {
		case a.n == 0:
		case a.ok || d.ifFailed[i]:
			status, comps = saga.StepCompensated, 1
		default:
			status = saga.StepFailed
		}
		if a.n > 1 {
			t.Errorf("step %d: action called %d times", i, a.n)
		}
		if a.n > 0 && a.ok == d.fail[i] {
			t.Errorf("step %d: action ok=%v, fail=%v", i, a.ok, d.fail[i])
		}
		want = append(want, fmt.Sprintf("s%d %v comps=%d", i, status, comps))
		got = append(got, fmt.Sprintf("%s %v comps=%d", rep.Steps[i].Name, rep.Steps[i].Status, c.n))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}

	for i, deps := range d.deps {
		for _, j := range deps { // j -> i: i runs after j
			if tr.act[i].n > 0 && !(tr.act[j].ok && tr.act[j].end < tr.act[i].start) {
				t.Errorf("s%d ran (from %d) before its dependency s%d succeeded (ok=%v, end %d)",
					i, tr.act[i].start, j, tr.act[j].ok, tr.act[j].end)
			}
			if tr.cmp[i].n > 0 && tr.cmp[j].n > 0 && tr.cmp[i].end > tr.cmp[j].start {
				t.Errorf("s%d compensated (from %d) before its dependent s%d's compensation ended (%d)",
					j, tr.cmp[j].start, i, tr.cmp[i].end)
			}
		}
	}
}

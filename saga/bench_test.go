package saga_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/sagakit/sagakit/saga"
)

// The benchmarks come in pairs, a runner and its baseline measured in the
// same run: BenchmarkRun10 and BenchmarkHandTimed10 (BenchmarkHand10 is
// the floor without a clock; BenchmarkHandReport10 adds a report on the
// heap), BenchmarkRunHooks10 and BenchmarkHandHooks10,
// BenchmarkRunLogger10 and BenchmarkHandLogger10, BenchmarkRunSteps/n and
// BenchmarkHandTimedSteps/n. A runner's overhead is its time less its
// baseline's. Each also reports its CPU time per run (cpu-ns/op, the
// garbage collector's included), steadier than the wall time where other
// processes share the cores.

type counter struct{ n [16]int }

//go:noinline
func work(_ context.Context, c *counter, i int) error {
	c.n[i%len(c.n)]++
	return nil
}

// benchSaga builds an n-step saga of work, configured further by with.
func benchSaga(n int, with func(*saga.Builder[counter])) *saga.Saga[counter] {
	b := saga.New[counter]().Name("bench")
	if with != nil {
		with(b)
	}
	for i := range n {
		b.Step(stepName(i), func(ctx context.Context, c *counter) error { return work(ctx, c, i) },
			func(_ context.Context, c *counter) error { c.n[i%len(c.n)]--; return nil })
	}
	return b.Build()
}

func stepName(i int) string { return "s" + strconv.Itoa(i) }

// runs runs sg b.N times and returns the CPU time per run.
func runs(b *testing.B, sg *saga.Saga[counter]) time.Duration {
	ctx := context.Background()
	var c counter
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := sg.Run(ctx, &c); err != nil {
			b.Fatal(err)
		}
	}
	return cpuPerOp(b, cpu)
}

// BenchmarkRun10 runs a 10-step saga; compare with BenchmarkHandTimed10,
// the same work written by hand with a clock reading per step.
func BenchmarkRun10(b *testing.B) { runs(b, benchSaga(10, nil)) }

// BenchmarkHand10 is the hand-written equivalent without timings: run
// steps, remember how far it got, undo in reverse on failure.
func BenchmarkHand10(b *testing.B) {
	ctx := context.Background()
	var c counter
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if err := hand(ctx, &c, 10); err != nil {
			b.Fatal(err)
		}
	}
	cpuPerOp(b, cpu)
}

func hand(ctx context.Context, c *counter, n int) error {
	done := 0
	for i := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := work(ctx, c, i); err != nil {
			for j := done - 1; j >= 0; j-- {
				c.n[j%len(c.n)]--
			}
			return err
		}
		done++
	}
	return nil
}

// BenchmarkHandTimed10 is BenchmarkHand10 plus what a run's report costs
// at the least: one clock reading per step into a per-run slice (on the
// stack: its size is a constant).
func BenchmarkHandTimed10(b *testing.B) {
	ctx := context.Background()
	var c counter
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		start := time.Now()
		ends := make([]time.Time, 10)
		for i := range 10 {
			if err := work(ctx, &c, i); err != nil {
				b.Fatal(err)
			}
			ends[i] = start.Add(time.Since(start))
		}
	}
	cpuPerOp(b, cpu)
}

// BenchmarkHandReport10 is BenchmarkHandTimed10 returning what Run
// returns: a report of the run, on the heap, with each step's name,
// status, attempts and times (but no run ID). Against BenchmarkRun10 it
// shows the runner's own cost; against BenchmarkHandTimed10, the cost of
// a report that outlives the run.
func BenchmarkHandReport10(b *testing.B) {
	names := make([]string, 10)
	for i := range names {
		names[i] = stepName(i)
	}
	ctx := context.Background()
	var c counter
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if rep := handReport(ctx, &c, names); rep.Status != saga.StatusSucceeded {
			b.Fatal(rep.Err)
		}
	}
	cpuPerOp(b, cpu)
}

func handReport(ctx context.Context, c *counter, names []string) *saga.Report {
	start := time.Now()
	rep := &saga.Report{Saga: "bench", Status: saga.StatusRunning, Start: start, Steps: make([]saga.StepReport, len(names))}
	last := start
	for i := range names {
		if err := work(ctx, c, i); err != nil {
			rep.Status, rep.Err = saga.StatusFailed, err
			return rep
		}
		end := start.Add(time.Since(start))
		rep.Steps[i] = saga.StepReport{Name: names[i], Status: saga.StepSucceeded, Attempts: 1, Start: last, End: end}
		last = end
	}
	rep.Status, rep.End = saga.StatusSucceeded, last
	return rep
}

// BenchmarkRunSteps runs sagas of 10, 100 and 1,000 steps and reports the
// cost per step, which stays flat; compare with BenchmarkHandTimedSteps.
func BenchmarkRunSteps(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			perStep(b, n, runs(b, benchSaga(n, nil)))
		})
	}
}

// BenchmarkHandTimedSteps is BenchmarkHandTimed10 for n steps, its
// slice of times made once and reused by every run, as a constant size
// would put it on the stack.
func BenchmarkHandTimedSteps(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			var c counter
			ends := make([]time.Time, n)
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				start := time.Now()
				for i := range n {
					if err := work(ctx, &c, i); err != nil {
						b.Fatal(err)
					}
					ends[i] = start.Add(time.Since(start))
				}
			}
			perStep(b, n, cpuPerOp(b, cpu))
		})
	}
}

// cpuPerOp reports the CPU time per run since cpu (see cpuTime), as
// cpu-ns/op, and returns it.
func cpuPerOp(b *testing.B, cpu time.Duration) time.Duration {
	cpu = cpuTime() - cpu
	if cpu <= 0 {
		return 0
	}
	cpu /= time.Duration(b.N)
	b.ReportMetric(float64(cpu.Nanoseconds()), "cpu-ns/op")
	return cpu
}

// perStep reports the wall and CPU times of a run of n steps per step.
func perStep(b *testing.B, n int, cpu time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/step")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/step")
	}
}

// nopHooks sets every callback, each doing nothing: what is measured is
// the cost of calling them.
func nopHooks() *saga.Hooks {
	return &saga.Hooks{
		RunContext:            func(ctx context.Context, _ saga.RunInfo) context.Context { return ctx },
		StepContext:           func(ctx context.Context, _ saga.StepInfo) context.Context { return ctx },
		CompensationContext:   func(ctx context.Context, _ saga.StepInfo) context.Context { return ctx },
		OnStart:               func(context.Context, saga.RunInfo) {},
		OnStepStart:           func(context.Context, saga.StepInfo) {},
		OnStepSuccess:         func(context.Context, saga.StepInfo, time.Duration) {},
		OnStepFailure:         func(context.Context, saga.StepInfo, error) {},
		OnStepSuspended:       func(context.Context, saga.StepInfo, error) {},
		OnStepRetry:           func(context.Context, saga.StepInfo, error, time.Duration) {},
		OnCompensationStart:   func(context.Context, saga.RunInfo, error) {},
		OnStepCompensated:     func(context.Context, saga.StepInfo) {},
		OnCompensationRetry:   func(context.Context, saga.StepInfo, error, time.Duration) {},
		OnCompensationFailure: func(context.Context, saga.StepInfo, error) {},
		OnComplete:            func(context.Context, *saga.Report) {},
	}
}

// BenchmarkRunHooks10 is BenchmarkRun10 with every hook set; compare with
// BenchmarkHandHooks10.
func BenchmarkRunHooks10(b *testing.B) {
	runs(b, benchSaga(10, func(sb *saga.Builder[counter]) { sb.WithHooks(nopHooks()) }))
}

// BenchmarkHandHooks10 is BenchmarkHandTimed10 calling the same callbacks
// at the same points with the same arguments: the run's and each step's
// context, a start and a success per step with the step's own duration
// (the clock read after the step's hooks and after its action, as the
// runner does), and a report of the run at its end. Its run ID is made
// once, not per run.
func BenchmarkHandHooks10(b *testing.B) {
	const n = 10
	h := nopHooks()
	names := make([]string, n)
	for i := range names {
		names[i] = stepName(i)
	}
	run := saga.RunInfo{Saga: "bench", RunID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}
	ctx := context.Background()
	var c counter
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		start := time.Now()
		rctx := h.RunContext(ctx, run)
		h.OnStart(rctx, run)
		var times [n][2]time.Time
		for i := range n {
			st := saga.StepInfo{RunInfo: run, Step: names[i], Index: i}
			sctx := h.StepContext(rctx, st)
			times[i][0] = start.Add(time.Since(start))
			st.Attempt = 1
			h.OnStepStart(sctx, st)
			if err := work(sctx, &c, i); err != nil {
				b.Fatal(err)
			}
			times[i][1] = start.Add(time.Since(start))
			h.OnStepSuccess(sctx, st, times[i][1].Sub(times[i][0]))
		}
		h.OnComplete(rctx, &saga.Report{Saga: run.Saga, RunID: run.RunID, Status: saga.StatusSucceeded, Start: start, End: times[n-1][1]})
	}
	cpuPerOp(b, cpu)
}

// benchLogger logs at Info, as in production: the runner's Debug records
// (a step's start and success) are dropped, its Info record of the run's
// end is written, as text, to io.Discard.
func benchLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// BenchmarkRunLogger10 is BenchmarkRun10 with a logger set; compare with
// BenchmarkHandLogger10.
func BenchmarkRunLogger10(b *testing.B) {
	runs(b, benchSaga(10, func(sb *saga.Builder[counter]) { sb.WithLogger(benchLogger()) }))
}

// BenchmarkHandLogger10 is BenchmarkHandTimed10 logging the same records
// with the same attributes at the same levels.
func BenchmarkHandLogger10(b *testing.B) {
	const n = 10
	l := benchLogger()
	names := make([]string, n)
	for i := range names {
		names[i] = stepName(i)
	}
	const id = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	ctx := context.Background()
	var c counter
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		start := time.Now()
		l.LogAttrs(ctx, slog.LevelDebug, "saga started", slog.Int("steps", n), slog.String("saga", "bench"), slog.String("run_id", id))
		ends := make([]time.Time, n)
		last := start
		for i := range n {
			l.LogAttrs(ctx, slog.LevelDebug, "step started", slog.String("step", names[i]), slog.Int("attempt", 1),
				slog.String("saga", "bench"), slog.String("run_id", id))
			if err := work(ctx, &c, i); err != nil {
				b.Fatal(err)
			}
			ends[i] = start.Add(time.Since(start))
			l.LogAttrs(ctx, slog.LevelDebug, "step succeeded", slog.String("step", names[i]), slog.Int("attempt", 1),
				slog.Duration("took", ends[i].Sub(last)), slog.String("saga", "bench"), slog.String("run_id", id))
			last = ends[i]
		}
		l.LogAttrs(ctx, slog.LevelInfo, "saga ended", slog.String("status", "succeeded"), slog.Duration("took", last.Sub(start)),
			slog.String("saga", "bench"), slog.String("run_id", id))
	}
	cpuPerOp(b, cpu)
}

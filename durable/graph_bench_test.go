package durable_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/parallel"
	"github.com/sagakit/sagakit/saga"
)

// fanOut returns a graph saga: a no-op root, then n branches after it,
// each running act.
func fanOut(n int, act func(context.Context, *benchState) error) *saga.Saga[benchState] {
	b := saga.New[benchState]().Name("fanout"+strconv.Itoa(n)).
		Step("root", func(context.Context, *benchState) error { return nil }, nil)
	for i := range n {
		b.Step("branch"+strconv.Itoa(i), act, func(context.Context, *benchState) error { return nil }, saga.After("root"))
	}
	return b.Build()
}

// chain returns a sequential saga of n no-op steps.
func chain(n int) *saga.Saga[benchState] {
	b := saga.New[benchState]().Name("chain" + strconv.Itoa(n))
	for i := range n {
		b.Step("step"+strconv.Itoa(i), func(context.Context, *benchState) error { return nil },
			func(context.Context, *benchState) error { return nil })
	}
	return b.Build()
}

// BenchmarkGraphFanOut3x50ms runs a no-op root then three branches that
// each take 50ms: durably on SQLite, where the branches run at once, each
// on a fork of the newest snapshot, and in memory with parallel.Run.
// Both take about 50ms, not 150ms: the durable run's overhead is the
// journal's commits around the branches (the root's start and end, the
// branches' starts and ends, the run's end).
func BenchmarkGraphFanOut3x50ms(b *testing.B) {
	sleep := func(context.Context, *benchState) error { time.Sleep(50 * time.Millisecond); return nil }
	b.Run("durable-sqlite", func(b *testing.B) {
		d, err := durable.Register(durable.NewEngine(openSQLite(b)), fanOut(3, sleep))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			st := newState()
			if _, err := d.Run(context.Background(), &st); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel-memory", func(b *testing.B) {
		sg := fanOut(3, sleep)
		for b.Loop() {
			st := newState()
			if _, err := parallel.Run(context.Background(), sg, &st); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGraphFanOut64 runs one durable run at a time of a no-op root
// then 64 no-op branches after it, all 64 ready at once: on SQLite, where
// their starts and ends share commits, and on the in-memory store, where
// a write costs next to nothing and what is left is the runner's own
// work (forks, snapshots, merges). steps/s and ns/step count the run's 65
// steps; appends/step and writes/step (creates included) count the
// store's calls, each one commit on SQLite. Compare with
// BenchmarkGraphChain64.
func BenchmarkGraphFanOut64(b *testing.B) {
	sg := fanOut(64, func(context.Context, *benchState) error { return nil })
	b.Run("sqlite", func(b *testing.B) { benchRuns(b, openSQLite(b), sg) })
	b.Run("memory", func(b *testing.B) { benchRuns(b, journal.NewMemory(), sg) })
}

// BenchmarkGraphChain64 runs one durable run at a time of a sequential
// saga of 64 no-op steps, on SQLite and in memory: each step costs one
// write (a step's end and the next step's start share it). The per-step
// figures to compare BenchmarkGraphFanOut64's with.
func BenchmarkGraphChain64(b *testing.B) {
	sg := chain(64)
	b.Run("sqlite", func(b *testing.B) { benchRuns(b, openSQLite(b), sg) })
	b.Run("memory", func(b *testing.B) { benchRuns(b, journal.NewMemory(), sg) })
}

// benchRuns runs sg on store, one run at a time, and reports steps/s,
// ns/step, and the store's appends and writes per step.
func benchRuns(b *testing.B, store journal.Store, sg *saga.Saga[benchState]) {
	counting := &countingStore{Store: store}
	d, err := durable.Register(durable.NewEngine(counting), sg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		st := newState()
		if _, err := d.Run(context.Background(), &st); err != nil {
			b.Fatal(err)
		}
	}
	reportSteps(b, counting, sg.Plan().Len())
}

// reportSteps reports steps/s, ns/step, and the store's appends and
// writes per step, for a benchmark whose every op is one run of steps
// steps.
func reportSteps(b *testing.B, counting *countingStore, steps int) {
	n := float64(b.N * steps)
	b.ReportMetric(n/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/step")
	counting.mu.Lock()
	defer counting.mu.Unlock()
	b.ReportMetric(float64(counting.appends)/n, "appends/step")
	b.ReportMetric(float64(counting.creates+counting.appends)/n, "writes/step")
}

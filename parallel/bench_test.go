package parallel_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sagakit/sagakit/parallel"
	"github.com/sagakit/sagakit/saga"
)

type counters struct{ n []int }

func wide(n int, fn func(int) func(context.Context, *counters) error) *saga.Saga[counters] {
	b := saga.New[counters]()
	for i := range n {
		b.Step("s"+strconv.Itoa(i), fn(i), nil)
	}
	return b.Build()
}

func noop(i int) func(context.Context, *counters) error {
	return func(_ context.Context, c *counters) error { c.n[i]++; return nil }
}

// BenchmarkRun1000 runs 1,000 no-op steps without dependencies; compare
// with BenchmarkErrgroup1000, a plain errgroup running the same functions.
func BenchmarkRun1000(b *testing.B) { fanOut(b, 1000) }

func BenchmarkErrgroup1000(b *testing.B) { errgroupFanOut(b, 1000) }

// BenchmarkRun10000 is BenchmarkRun1000 with 10,000 steps; compare with
// BenchmarkErrgroup10000.
func BenchmarkRun10000(b *testing.B) { fanOut(b, 10000) }

func BenchmarkErrgroup10000(b *testing.B) { errgroupFanOut(b, 10000) }

// fanOut runs n no-op steps without dependencies.
func fanOut(b *testing.B, n int) {
	sg := wide(n, noop)
	c := counters{n: make([]int, n)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parallel.Run(context.Background(), sg, &c); err != nil {
			b.Fatal(err)
		}
	}
	perStep(b, n)
}

// errgroupFanOut runs the same n functions as fanOut in a plain errgroup.
func errgroupFanOut(b *testing.B, n int) {
	fns := make([]func(context.Context, *counters) error, n)
	for i := range fns {
		fns[i] = noop(i)
	}
	c := counters{n: make([]int, n)}
	b.ReportAllocs()
	for b.Loop() {
		g, ctx := errgroup.WithContext(context.Background())
		for _, fn := range fns {
			g.Go(func() error { return fn(ctx, &c) })
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	perStep(b, n)
}

func perStep(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/step")
}

// BenchmarkRun10000Waits runs 10,000 steps that each wait 100ms: the time
// over 100ms is the runner's overhead.
func BenchmarkRun10000Waits(b *testing.B) {
	sg := wide(10000, func(int) func(context.Context, *counters) error {
		return func(context.Context, *counters) error { time.Sleep(100 * time.Millisecond); return nil }
	})
	var c counters
	for b.Loop() {
		if _, err := parallel.Run(context.Background(), sg, &c); err != nil {
			b.Fatal(err)
		}
	}
}

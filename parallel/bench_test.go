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
func BenchmarkRun1000(b *testing.B) {
	sg := wide(1000, noop)
	c := counters{n: make([]int, 1000)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parallel.Run(context.Background(), sg, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkErrgroup1000(b *testing.B) {
	fns := make([]func(context.Context, *counters) error, 1000)
	for i := range fns {
		fns[i] = noop(i)
	}
	c := counters{n: make([]int, 1000)}
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
}

// BenchmarkRun10000Waits runs 10,000 steps that each wait 100ms: the time
// over 100ms is the runner's overhead (talepy asks 2,000 one-second steps
// in under 5s).
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

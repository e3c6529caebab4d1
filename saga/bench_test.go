package saga_test

import (
	"context"
	"testing"
	"time"

	"github.com/sagakit/sagakit/saga"
)

type counter struct{ n [16]int }

//go:noinline
func work(_ context.Context, c *counter, i int) error {
	c.n[i]++
	return nil
}

func benchSteps(n int) *saga.Saga[counter] {
	b := saga.New[counter]().Name("bench")
	for i := range n {
		name := string(rune('a' + i))
		b.Step(name, func(ctx context.Context, c *counter) error { return work(ctx, c, i) },
			func(ctx context.Context, c *counter) error { c.n[i]--; return nil })
	}
	return b.Build()
}

// BenchmarkRun10 runs a 10-step saga; compare with BenchmarkHand10, the
// same work written by hand with defer-style compensation bookkeeping.
func BenchmarkRun10(b *testing.B) {
	sg := benchSteps(10)
	ctx := context.Background()
	var c counter
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sg.Run(ctx, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHand10(b *testing.B) {
	ctx := context.Background()
	var c counter
	b.ReportAllocs()
	for b.Loop() {
		if err := hand(ctx, &c, 10); err != nil {
			b.Fatal(err)
		}
	}
}

// hand is the hand-written equivalent: run steps, remember how far it got,
// undo in reverse on failure.
func hand(ctx context.Context, c *counter, n int) error {
	done := 0
	for i := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := work(ctx, c, i); err != nil {
			for j := done - 1; j >= 0; j-- {
				c.n[j]--
			}
			return err
		}
		done++
	}
	return nil
}

// BenchmarkHandTimed10 is BenchmarkHand10 plus what a run's report costs
// at the least: one clock reading per step into a per-run slice.
func BenchmarkHandTimed10(b *testing.B) {
	ctx := context.Background()
	var c counter
	b.ReportAllocs()
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
}

package durable_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
)

// benchState is a ~100-byte state, as a small real saga would journal.
type benchState struct {
	OrderID, Customer, PaymentID, Shipment string
	Items                                  []int
}

func fiveSteps() *saga.Saga[benchState] {
	b := saga.New[benchState]().Name("bench")
	for i := range 5 {
		b.Step("step"+strconv.Itoa(i), func(_ context.Context, s *benchState) error {
			s.Items = append(s.Items[:0], i)
			return nil
		}, func(context.Context, *benchState) error { return nil })
	}
	return b.Build()
}

func newState() benchState {
	return benchState{OrderID: "order-000042", Customer: "customer-000001", PaymentID: "pay-0000000001", Shipment: "ship-000001"}
}

func openSQLite(b *testing.B) journal.Store {
	store, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "journal.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	return store
}

// BenchmarkStartToFirstStep measures, with an idle worker on the same
// engine and a SQLite journal, the time from Definition.Start to the
// run's first step: Start wakes the worker, which claims the run at once
// instead of at its next poll (an hour away here). It reports the median
// and the 99th percentile.
func BenchmarkStartToFirstStep(b *testing.B) {
	e := durable.NewEngine(openSQLite(b))
	first := make(chan time.Time, 1)
	sg := saga.New[benchState]().Name("latency").
		Step("first", func(context.Context, *benchState) error { first <- time.Now(); return nil }, nil).
		Build()
	d, err := durable.Register(e, sg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go e.Work(ctx, time.Hour)
	var lat []time.Duration
	for b.Loop() {
		st := newState()
		start := time.Now()
		id, err := d.Start(context.Background(), &st)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-first).Sub(start))
		if _, err := e.Wait(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

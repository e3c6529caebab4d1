package durable_test

import (
	"context"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

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

// BenchmarkDurableSQLite64 runs 5-step sagas journaled to SQLite from 64
// goroutines at once: group commit lets concurrent runs share fsyncs.
func BenchmarkDurableSQLite64(b *testing.B) {
	d, err := durable.Register(durable.NewEngine(openSQLite(b)), fiveSteps())
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0))) // 64 goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			st := newState()
			if _, err := d.Run(context.Background(), &st); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*5)/b.Elapsed().Seconds(), "steps/s")
}

// BenchmarkDurableSQLiteLone runs one 5-step saga at a time: each step
// costs one commit (a step's end and the next step's start share it).
func BenchmarkDurableSQLiteLone(b *testing.B) {
	counting := &countingStore{Store: openSQLite(b)}
	d, err := durable.Register(durable.NewEngine(counting), fiveSteps())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		st := newState()
		if _, err := d.Run(context.Background(), &st); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*5)/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(float64(counting.creates+counting.appends)/float64(b.N*5), "writes/step")
}

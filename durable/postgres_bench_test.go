package durable_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal/postgres"
	"github.com/sagakit/sagakit/saga"
)

// openPostgres opens a PostgreSQL store in a schema of the benchmark's
// own, dropped when it is done, twice: two pools, as two replicas would
// have. It skips without SAGAKIT_POSTGRES_DSN.
func openPostgres(b *testing.B) (front, worker *postgres.Store) {
	dsn := os.Getenv("SAGAKIT_POSTGRES_DSN")
	if dsn == "" {
		b.Skip("no PostgreSQL: set SAGAKIT_POSTGRES_DSN")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("bench_%08x", rand.Uint32())
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	front, worker = open(), open()
	b.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			b.Error(err)
		}
	})
	return front, worker
}

// BenchmarkStartToFirstStepPostgres measures the time from
// Definition.Start on one replica (a store, an engine of its own) to the
// first step on another, whose worker is idle with its next poll an hour
// away: LISTEN/NOTIFY wakes it. It reports the median and the 99th
// percentile.
func BenchmarkStartToFirstStepPostgres(b *testing.B) {
	frontStore, workerStore := openPostgres(b)
	first := make(chan time.Time, 1)
	sg := saga.New[benchState]().Name("latency").
		Step("first", func(context.Context, *benchState) error { first <- time.Now(); return nil }, nil).
		Build()
	front := durable.NewEngine(frontStore, durable.WithOwner("front"))
	d, err := durable.Register(front, sg)
	if err != nil {
		b.Fatal(err)
	}
	worker := durable.NewEngine(workerStore, durable.WithOwner("worker"))
	if _, err := durable.Register(worker, sg); err != nil {
		b.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go worker.Work(ctx, time.Hour)
	time.Sleep(100 * time.Millisecond) // the worker's first, empty claim
	var lat []time.Duration
	for b.Loop() {
		st := newState()
		start := time.Now()
		id, err := d.Start(context.Background(), &st)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-first).Sub(start))
		if _, err := front.Wait(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

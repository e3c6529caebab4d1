package durable_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	dsn := pgBenchDSN(b)
	schema := pgBenchSchema(b, dsn, "bench_")
	open := func() *postgres.Store {
		s, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(schema))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	return open(), open()
}

// pgBenchDSN returns SAGAKIT_POSTGRES_DSN, and skips the benchmark when it
// is unset.
func pgBenchDSN(b *testing.B) string {
	b.Helper()
	dsn := os.Getenv("SAGAKIT_POSTGRES_DSN")
	if dsn == "" {
		b.Skip("no PostgreSQL: set SAGAKIT_POSTGRES_DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	return dsn
}

// pgBenchSchema returns a fresh schema name starting with prefix, dropped
// with everything in it when the benchmark ends. Whoever uses it creates
// it (postgres.Open with WithSchema).
func pgBenchSchema(b *testing.B, dsn, prefix string) string {
	b.Helper()
	r := make([]byte, 6)
	_, _ = rand.Read(r)
	name := prefix + hex.EncodeToString(r)
	b.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			b.Error(err)
		}
	})
	return name
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

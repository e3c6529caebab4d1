package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
	"github.com/jackc/pgx/v5"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal/postgres"
	"github.com/sagakit/sagakit/saga"
)

// BenchmarkPostgres compares durable sagas on PostgreSQL: sagakit
// (package durable, journaled by journal/postgres) against DBOS Transact
// Go, on the server of SAGAKIT_POSTGRES_DSN, in one run:
//
//	SAGAKIT_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench Postgres -benchtime 3s
//
// The workload is a 5-step saga whose steps do nothing, each step
// durably committed before the next starts; one benchmark op is one run,
// and steps/s counts its 5 steps. The state is the same small order
// (about 100 bytes of JSON) for both: sagakit journals it after each
// step; the DBOS workflow takes it as input, and each step returns it, so
// that DBOS checkpoints as many bytes per step.
//
//   - sagakit/{1,8,64}: 1, 8 or 64 goroutines each calling
//     Definition.Run, which drives the run in the caller's goroutine. Each
//     step has a no-op compensation.
//   - sagakit-start/64: 64 goroutines each calling Definition.Start then
//     Engine.Wait, while Engine.Work (WithConcurrency(64)) in the same
//     process claims and drives the runs: the path of a fleet of workers.
//   - dbos/{1,8,64}: 1, 8 or 64 goroutines each calling RunWorkflow on
//     a workflow of 5 RunAsStep steps, then GetResult on its handle.
//
// Each reports steps/s and the median and 99th percentile of a run's
// latency (p50-ms, p99-ms), as BenchmarkThroughputPostgres in package
// durable does.
//
// Each benchmark runs on fresh tables: sagakit in a schema of its own
// (WithSchema), DBOS in a schema of its own (Config.DatabaseSchema) in
// the same database; both are dropped afterwards. DBOS opens its own pool
// (20 connections unless the DSN sets pool_max_conns);
// SAGAKIT_BENCH_DBOS_POOL=n sets it to n. Both libraries log nothing.
func BenchmarkPostgres(b *testing.B) {
	dsn := benchDSN(b)
	for _, n := range []int{1, 8, 64} {
		g := strconv.Itoa(n)
		b.Run("sagakit/"+g, func(b *testing.B) { benchSagakitRun(b, dsn, n) })
		b.Run("dbos/"+g, func(b *testing.B) { benchDBOS(b, dsn, n) })
	}
	b.Run("sagakit-start/64", func(b *testing.B) { benchSagakitStart(b, dsn, 64) })
}

const sagaSteps = 5

// order is the state of both benchmarks' runs.
type order struct {
	ID, Customer, Payment, Shipment string
	Items                           []int
}

func newOrder() order {
	return order{ID: "order-000042", Customer: "customer-000001", Payment: "pay-0000000001",
		Shipment: "ship-000001", Items: []int{1, 2, 3}}
}

// benchDSN returns the DSN of SAGAKIT_POSTGRES_DSN, and skips when it is
// unset or the server does not answer.
func benchDSN(b *testing.B) string {
	b.Helper()
	dsn := os.Getenv("SAGAKIT_POSTGRES_DSN")
	if dsn == "" {
		b.Skip("no PostgreSQL: set SAGAKIT_POSTGRES_DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Skipf("no PostgreSQL: the server of SAGAKIT_POSTGRES_DSN does not answer: %v", err)
	}
	defer conn.Close(ctx)
	if err := conn.Ping(ctx); err != nil {
		b.Skipf("no PostgreSQL: the server of SAGAKIT_POSTGRES_DSN does not answer: %v", err)
	}
	return dsn
}

// newSchema returns a fresh schema name starting with prefix, dropped
// (with everything in it) when the benchmark ends. The library under test
// creates it.
func newSchema(b *testing.B, dsn, prefix string) string {
	b.Helper()
	r := make([]byte, 6)
	_, _ = rand.Read(r)
	name := prefix + hex.EncodeToString(r)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			b.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// drive calls run b.N times from the given number of goroutines, timed,
// and reports steps/s and the median and 99th percentile of a run's
// duration.
func drive(b *testing.B, goroutines int, run func(context.Context) error) {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	errs := make(chan error, goroutines)
	lat := make([][]time.Duration, goroutines)
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := range goroutines {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := run(ctx); err != nil {
					errs <- err
					return
				}
				lat[g] = append(lat[g], time.Since(t0))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*sagaSteps)/b.Elapsed().Seconds(), "steps/s")
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

// sagakit

func fiveStepSaga() *saga.Saga[order] {
	sb := saga.New[order]().Name("bench")
	for i := range sagaSteps {
		sb.Step("step"+strconv.Itoa(i),
			func(context.Context, *order) error { return nil },
			func(context.Context, *order) error { return nil })
	}
	return sb.Build()
}

// sagakitDefinition opens a store in a fresh schema and registers the
// saga on an engine over it.
func sagakitDefinition(b *testing.B, dsn string, opts ...durable.Option) (*durable.Engine, *durable.Definition[order]) {
	b.Helper()
	store, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(newSchema(b, dsn, "sagakit_bench_")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() }) // before the schema is dropped: cleanups run last first
	e := durable.NewEngine(store, opts...)
	d, err := durable.Register(e, fiveStepSaga())
	if err != nil {
		b.Fatal(err)
	}
	return e, d
}

func benchSagakitRun(b *testing.B, dsn string, goroutines int) {
	_, d := sagakitDefinition(b, dsn)
	drive(b, goroutines, func(ctx context.Context) error {
		st := newOrder()
		_, err := d.Run(ctx, &st)
		return err
	})
}

func benchSagakitStart(b *testing.B, dsn string, goroutines int) {
	e, d := sagakitDefinition(b, dsn, durable.WithConcurrency(goroutines))
	ctx, stop := context.WithCancel(context.Background())
	worked := make(chan error, 1)
	go func() { worked <- e.Work(ctx, 0) }()
	defer func() {
		stop()
		if err := <-worked; err != nil && !errors.Is(err, context.Canceled) {
			b.Error(err)
		}
	}()
	drive(b, goroutines, func(ctx context.Context) error {
		st := newOrder()
		id, err := d.Start(ctx, &st)
		if err != nil {
			return err
		}
		_, err = e.Wait(ctx, id)
		return err
	})
}

// DBOS

func noopStep(o order) dbos.Step[order] {
	return func(context.Context) (order, error) { return o, nil }
}

// fiveStepWorkflow runs five no-op steps, each checkpointed by DBOS
// before the next starts.
func fiveStepWorkflow(ctx dbos.Context, o order) (order, error) {
	for i := range sagaSteps {
		var err error
		o, err = dbos.RunAsStep(ctx, noopStep(o), dbos.WithStepName("step"+strconv.Itoa(i)))
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// dbosURL is dsn with pool_max_conns set from SAGAKIT_BENCH_DBOS_POOL,
// if that is set.
func dbosURL(b *testing.B, dsn string) string {
	b.Helper()
	v := os.Getenv("SAGAKIT_BENCH_DBOS_POOL")
	if v == "" {
		return dsn
	}
	if n, err := strconv.Atoi(v); err != nil || n < 1 {
		b.Fatalf("SAGAKIT_BENCH_DBOS_POOL=%q: want a number of connections", v)
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " pool_max_conns=" + v // keyword/value
	}
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal("SAGAKIT_POSTGRES_DSN is not a valid URL")
	}
	q := u.Query()
	q.Set("pool_max_conns", v)
	u.RawQuery = q.Encode()
	return u.String()
}

func benchDBOS(b *testing.B, dsn string, goroutines int) {
	schema := newSchema(b, dsn, "dbos_bench_")
	dctx, err := dbos.NewContext(context.Background(), dbos.Config{
		AppName:        "sagakit-bench",
		DatabaseURL:    dbosURL(b, dsn),
		DatabaseSchema: schema,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dbos.Shutdown(dctx, 10*time.Second) })
	dbos.RegisterWorkflow(dctx, fiveStepWorkflow, dbos.WithWorkflowName("bench"))
	if err := dbos.Launch(dctx); err != nil {
		b.Fatal(err)
	}
	drive(b, goroutines, func(context.Context) error {
		h, err := dbos.RunWorkflow(dctx, fiveStepWorkflow, newOrder())
		if err != nil {
			return err
		}
		_, err = h.GetResult()
		return err
	})
}

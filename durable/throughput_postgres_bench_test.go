package durable_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal/postgres"
)

// BenchmarkThroughputPostgres runs 5-step sagas journaled on PostgreSQL
// (the server of SAGAKIT_POSTGRES_DSN; it skips without one) from 1, 8
// and 64 goroutines at once:
//
//   - sagakit: Definition.Run of fiveSteps (a ~100-byte state), each
//     run's writes committed by the store's writer, which sends the
//     writes of every run in flight as one batch, one commit. It reports
//     the steps per second and each run's latency (p50-ms, p99-ms).
//   - raw: the same writes in plain pgx on one connection (pgChain: the
//     same rows, the same 6 commits a run), conc runs in lockstep with one
//     transaction per round: the batching the writer achieves at best,
//     without lease checks, Seq lookups, wake-ups or codec. A run's
//     latency is its group's.
//
// One benchmark op is one run of 5 steps. Each benchmark works in a
// schema of its own, dropped afterwards. Run it with
//
//	SAGAKIT_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench ThroughputPostgres -count 5 ./durable
func BenchmarkThroughputPostgres(b *testing.B) {
	dsn := pgBenchDSN(b)
	for _, conc := range []int{1, 8, 64} {
		b.Run("sagakit/"+strconv.Itoa(conc), func(b *testing.B) { benchSagakitPostgres(b, dsn, conc) })
		b.Run("raw/"+strconv.Itoa(conc), func(b *testing.B) { benchRawPostgres(b, dsn, conc) })
	}
}

func benchSagakitPostgres(b *testing.B, dsn string, conc int) {
	store, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(pgBenchSchema(b, dsn, "tp_bench_")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() }) // before the schema is dropped
	d, err := durable.Register(durable.NewEngine(store), fiveSteps())
	if err != nil {
		b.Fatal(err)
	}
	lat := runAtOnce(b, conc, func(ctx context.Context) error {
		st := newState()
		_, err := d.Run(ctx, &st)
		return err
	})
	reportRuns(b, lat)
}

func benchRawPostgres(b *testing.B, dsn string, conc int) {
	ctx := context.Background()
	raw := newPgChain(b, dsn, pgBenchSchema(b, dsn, "tp_pgx_"))
	lat := make([]time.Duration, 0, b.N)
	ids := make([]string, 0, conc)
	b.ResetTimer()
	for first := 0; first < b.N; first += conc {
		ids = ids[:0]
		for i := first; i < min(first+conc, b.N); i++ {
			ids = append(ids, "run-"+strconv.Itoa(i))
		}
		t0 := time.Now()
		if err := raw.runs(ctx, ids); err != nil {
			b.Fatal(err)
		}
		took := time.Since(t0)
		for range ids {
			lat = append(lat, took)
		}
	}
	b.StopTimer()
	reportRuns(b, lat)
}

// runAtOnce calls run b.N times in all from conc goroutines, timed, and
// returns each call's duration.
func runAtOnce(b *testing.B, conc int, run func(context.Context) error) []time.Duration {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	lat := make([][]time.Duration, conc)
	errs := make(chan error, conc)
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range conc {
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
	return slices.Concat(lat...)
}

// reportRuns reports the steps/s of the benchmark's b.N runs of 5 steps
// and the median and 99th percentile of their durations lat.
func reportRuns(b *testing.B, lat []time.Duration) {
	b.ReportMetric(float64(b.N*5)/b.Elapsed().Seconds(), "steps/s")
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

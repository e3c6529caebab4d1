// Package bench compares sagakit with other libraries doing the same
// work. It is a separate module so that the root module depends on none
// of them. Its command benchtable (cmd/benchtable), which make bench
// runs, puts these comparisons beside the root module's own baselines in
// one table; BENCHMARKS.md at the repository's root has the method, the
// machine and the latest figures.
//
// # Retries
//
// BenchmarkSagakit, BenchmarkBackoff and BenchmarkFailsafe compare the
// overhead of sagakit's retry package with github.com/cenkalti/backoff/v5
// and github.com/failsafe-go/failsafe-go: a success at the first try, 3
// attempts with and without a tiny wait, and 10 attempts without waits.
// Run from this directory:
//
//	go test -run '^$' -bench 'Sagakit|Backoff|Failsafe' -benchmem
//
// # Durable sagas on PostgreSQL
//
// BenchmarkPostgres compares durable runs of sagakit (package durable,
// journaled by journal/postgres) with DBOS Transact Go
// (github.com/dbos-inc/dbos-transact-golang), on the same server and
// workload, in one run: a 5-step saga whose steps do nothing, each step
// durably committed before the next starts, with a ~100-byte state that
// sagakit journals after each step and that each DBOS step returns (and
// DBOS checkpoints). One op is one run; steps/s counts its 5 steps, and
// p50-ms and p99-ms are the median and 99th percentile of a run's
// duration.
//
//   - sagakit/1, sagakit/8, sagakit/64: Definition.Run from 1, 8 or 64
//     goroutines at once (each step has a no-op compensation);
//   - dbos/1, dbos/8, dbos/64: RunWorkflow of a workflow of 5 RunAsStep
//     steps, then GetResult, likewise;
//   - sagakit-start/64: Definition.Start then Engine.Wait from 64
//     goroutines, with Engine.Work (WithConcurrency(64)) driving the runs
//     in the same process: the path of a fleet of workers.
//
// It needs a server, named by SAGAKIT_POSTGRES_DSN (it skips without
// one), on which the DSN's user may create schemas; DBOS also connects to
// the server's "postgres" database at start, to check that the DSN's
// database exists. Each benchmark works in a fresh schema of its own in
// the DSN's database (sagakit: WithSchema; DBOS: Config.DatabaseSchema)
// and drops it afterwards. DBOS keeps its default pool of 20 connections;
// SAGAKIT_BENCH_DBOS_POOL=n sets it to n. Run from this directory:
//
//	SAGAKIT_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench Postgres -count 5
//
// Package durable's BenchmarkThroughputPostgres runs the same sagakit
// workload against plain pgx doing the same writes with the same
// batching, and BenchmarkFleetPostgres drains a backlog with 1 and 2
// worker processes.
package bench

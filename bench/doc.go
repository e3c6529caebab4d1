// Package bench compares sagakit with other libraries doing the same
// work. It is a separate module so that the root module depends on none
// of them.
//
// # Retries
//
// BenchmarkSagakit, BenchmarkBackoff and BenchmarkFailsafe compare the
// overhead of sagakit's retry package with github.com/cenkalti/backoff/v5
// and github.com/failsafe-go/failsafe-go. Run from this directory:
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
// DBOS checkpoints). One op is one run; steps/s counts its 5 steps.
//
//   - sagakit/64 and sagakit/lone: Definition.Run from 64 goroutines at
//     once, or one run at a time (each step has a no-op compensation);
//   - dbos/64 and dbos/lone: RunWorkflow of a workflow of 5 RunAsStep
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
//	  go test -run '^$' -bench Postgres -benchtime 3s -count 3
//
// Measured on 2026-12-01 on a 2-core VM with PostgreSQL on the same
// machine, whose fsync time swings widely (9 samples each, medians, ranges
// in parentheses; the ratios, taken within one round, hold better than
// the absolute figures):
//
//	                     sagakit               DBOS               sagakit/DBOS
//	64 runs at once      3,549 (1,504-6,706)   674 (567-923)      about 5.3x (2.4-7.5x)
//	one run at a time      410 (237-1,119)     228 (155-859)      about 1.8x (1.3-2.4x)
//
// sagakit-start/64 (Definition.Start, Engine.Work and Engine.Wait in one
// process) reached 733 (453-1,681), and 1,012 in a later run once Wait
// stopped reloading its run on every other run's wake-up: the fleet path
// costs a claim, a load and the waiters' loads per run on top of Run's
// writes.
//
// A lone run committed 7 times: the run with its first step's start, each
// step's end with the next one's start, and the lease's release (6 since
// the run's last write releases the lease, see below). Once
// journal/postgres stopped waiting for the disk on a batch of releases
// only, one run at a time measured 2,248 steps/s (561-2,723) for sagakit
// against 1,187 (919-1,429) for DBOS, about 1.9x (9 samples each, later
// on 2026-12-01; the server's fsync was quicker than for the table, whose
// absolute figures these are not comparable with). Package durable has
// the fleet's figures: BenchmarkPostgresLone puts a lone run against the
// same 7 writes in plain pgx, one transaction each, run for run in turn
// (0.72 of plain pgx's steps/s when the server's fsync is quick, about
// 3,000 steps/s for pgx, against 0.66 before releases stopped waiting and
// Append stopped looking the run up on success; 0.8 to 0.9 when fsync is
// slow). Since a run's last write releases its lease, a lone run commits
// 6 times, and measured 0.75 to 0.80 of those 7 pgx writes' steps/s when
// fsync was quick, 0.85 to 0.89 at 2,600-3,400 steps/s for pgx (against
// 0.81 to 0.84 before, run for run in turn), and 0.70 to 0.75 of the same
// writes made in 6 commits in plain pgx (pgx6); BenchmarkFleetPostgres
// drains a backlog of started runs with 1 and 2 worker processes in
// turn, and 2 workers drained it 1.2x (1.1 to
// 1.4x) as fast as 1 (about 6,400-7,200 steps/s against 5,200-6,100):
// the server and the workers take about 140 and 80 microseconds of CPU
// a step, most of what 2 cores have at that rate, and the second
// worker's gain is that of more runs in flight (1 worker driving 32 runs
// at once does about as well).
package bench

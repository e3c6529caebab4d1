package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
)

// Benchmarks of journaling on the server of SAGAKIT_POSTGRES_DSN:
//
//	go test -run '^$' -bench . -benchtime 3s ./journal/postgres
//
// BenchmarkStore64 drives 5-step runs from 64 goroutines, as a worker
// does, and BenchmarkStoreLone from one; BenchmarkBaseline64 and
// BenchmarkBaselineLone do the same writes in plain pgx, without lease
// checks or Seq lookups: one writer sending each round of 64 runs' ops
// (at most 256 rows) as one pipelined transaction, and one transaction
// per op. One benchmark op is one journaled step. The store's figures
// include ops per commit and round trips (batches sent) per step;
// SAGAKIT_BENCH_WRITERS=n runs the store with n writers (WithWriters).

const (
	workers  = 64  // concurrent runs in the 64 benchmarks
	runSteps = 5   // steps per run
	stateLen = 100 // bytes of state per snapshot
)

var benchState = fmt.Appendf(nil, `{"order":"o-1","pad":"%0*d"}`, stateLen-22, 0)

func BenchmarkStore64(b *testing.B)   { benchStore(b, workers) }
func BenchmarkStoreLone(b *testing.B) { benchStore(b, 1) }

func benchStore(b *testing.B, goroutines int) {
	ctx := context.Background()
	opts := []postgres.Option{postgres.WithSchema(newSchema(b))}
	if n, err := strconv.Atoi(os.Getenv("SAGAKIT_BENCH_WRITERS")); err == nil {
		opts = append(opts, postgres.WithWriters(n))
	}
	s, err := postgres.Open(ctx, testDSN(b), opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	runs := int64((b.N + runSteps - 1) / runSteps)
	var next atomic.Int64
	b0, c0, o0 := s.Batches()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for w := range goroutines {
		owner := fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			for i := next.Add(1); i <= runs; i = next.Add(1) {
				if err := driveRun(ctx, s, owner, fmt.Sprintf("run-%d", i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b1, c1, o1 := s.Batches()
	steps := float64(runs * runSteps)
	b.ReportMetric(steps/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(float64(o1-o0)/float64(c1-c0), "ops/commit")
	b.ReportMetric(float64(b1-b0)/steps, "trips/step")
}

// driveRun journals one run as the runner does: Create with the first
// step's start, an Append per step (its end, with a state snapshot, and
// the next one's start) with an empty Update, and a final Append ending
// the run.
func driveRun(ctx context.Context, s journal.Store, owner, id string) error {
	now := time.Now()
	err := s.Create(ctx, journal.Run{ID: id, Saga: "order", Fingerprint: "fp", Status: journal.Running,
		State: benchState, LeaseOwner: owner, LeaseExpiry: now.Add(time.Minute)},
		journal.Entry{Kind: journal.RunStarted, At: now},
		journal.Entry{Kind: journal.StepStarted, Step: "step-0", Attempt: 1, At: now})
	if err != nil {
		return err
	}
	for step := range runSteps {
		now := time.Now()
		next := journal.Entry{Kind: journal.StepStarted, Step: fmt.Sprintf("step-%d", step+1), Attempt: 1, At: now}
		if step == runSteps-1 {
			next = journal.Entry{Kind: journal.RunEnded, Status: journal.Succeeded, At: now}
		}
		err := s.Append(ctx, id, owner, journal.Update{},
			journal.Entry{Kind: journal.StepSucceeded, Step: fmt.Sprintf("step-%d", step), Attempt: 1,
				Attempts: 1, State: benchState, At: now},
			next)
		if err != nil {
			return err
		}
	}
	return s.Append(ctx, id, owner, journal.Update{Status: journal.Succeeded, Ended: true},
		journal.Entry{Kind: journal.RequestCarriedOut, Note: "final", At: time.Now()})
}

func BenchmarkBaseline64(b *testing.B)   { benchBaseline(b, workers) }
func BenchmarkBaselineLone(b *testing.B) { benchBaseline(b, 1) }

// benchBaseline does benchStore's writes (the same rows: the run created,
// entries inserted, the header updated only at the end) from one
// goroutine in plain pgx, with `width` runs advancing in lockstep and one
// pipelined transaction per round: with 64 runs, the 64 runs' next op,
// at most 192 rows.
func benchBaseline(b *testing.B, width int) {
	ctx := context.Background()
	schema := newSchema(b)
	s, err := postgres.Open(ctx, testDSN(b), postgres.WithSchema(schema)) // for the tables
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, testDSN(b))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	runsT, entriesT := pgx.Identifier{schema, "runs"}.Sanitize(), pgx.Identifier{schema, "entries"}.Sanitize()
	insRun := `INSERT INTO ` + runsT + ` (id, saga, fingerprint, status, state, error, note, request_verb, request_step,
		request_note, created, updated, ended, lease_owner, lease_expiry, last_seq)
		VALUES ($1, 'order', 'fp', 'running', $2, '', '', '', '', '', $3, $3, 0, 'w', $4, 2)`
	insEntry := `INSERT INTO ` + entriesT + ` (run_id, seq, kind, step, attempt, attempts, error, state, status, verb, note, at)
		VALUES ($1, $2, $3, $4, 1, 1, '', $5, '', '', '', $6)`
	end := `UPDATE ` + runsT + ` SET updated = $1, status = 'succeeded', ended = $1 WHERE id = $2`

	runs := (b.N + runSteps - 1) / runSteps
	trips := 0
	b.ResetTimer()
	for first := 0; first < runs; first += width {
		ids := make([]string, 0, width)
		for i := first; i < min(first+width, runs); i++ {
			ids = append(ids, fmt.Sprintf("run-%d", i))
		}
		// One round per operation of a run: create, 5 steps, end.
		for round := 0; round < runSteps+2; round++ {
			batch := &pgx.Batch{}
			for _, id := range ids {
				now := time.Now().UnixNano()
				seq := int64(2*round + 1)
				switch {
				case round == 0:
					batch.Queue(insRun, id, benchState, now, now+int64(time.Minute))
					batch.Queue(insEntry, id, 1, "run_started", "", nil, now)
					batch.Queue(insEntry, id, 2, "step_started", "step-0", nil, now)
				case round <= runSteps:
					batch.Queue(insEntry, id, seq, "step_succeeded", fmt.Sprintf("step-%d", round-1), benchState, now)
					batch.Queue(insEntry, id, seq+1, "step_started", fmt.Sprintf("step-%d", round), nil, now)
				default:
					batch.Queue(insEntry, id, seq, "request_done", "", nil, now)
					batch.Queue(end, now, id)
				}
			}
			if err := conn.SendBatch(ctx, batch).Close(); err != nil {
				b.Fatal(err)
			}
			trips++
		}
	}
	b.StopTimer()
	steps := float64(runs * runSteps)
	b.ReportMetric(steps/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(float64(trips)/steps, "trips/step")
}

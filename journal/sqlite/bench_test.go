package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// Benchmarks of durable journaling, all on files in WAL mode with
// synchronous=FULL, so every commit waits for an fsync:
//
//	go test -run '^$' -bench . -benchtime 3s ./journal/sqlite
//
// BenchmarkRaw measures modernc.org/sqlite alone: what one commit costs
// and how much batching buys. BenchmarkStore measures the Store driving
// runs from 64 goroutines, as a worker does; BenchmarkBaseline does the
// same writes in plain SQL with the batch size the Store achieves, as the
// bound the Store is measured against.

const (
	workers  = 64  // concurrent runs in BenchmarkStore
	runSteps = 5   // steps per run
	stateLen = 100 // bytes of state per snapshot
)

var benchState = []byte(fmt.Sprintf(`{"order":"o-1","pad":"%0*d"}`, stateLen-22, 0))

// rawDB opens a database/sql handle with the Store's pragmas.
func rawDB(b *testing.B) *sql.DB {
	b.Helper()
	db, err := sql.Open("sqlite", filepath.Join(b.TempDir(), "raw.db")+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { _ = db.Close() })
	_, err = db.Exec(`CREATE TABLE rows (id INTEGER PRIMARY KEY, run TEXT NOT NULL, seq INTEGER NOT NULL,
		state BLOB, at INTEGER NOT NULL)`)
	if err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkRaw inserts rows in transactions of 1, 16 and 128 rows.
func BenchmarkRaw(b *testing.B) {
	for _, batch := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("rows%d", batch), func(b *testing.B) {
			db := rawDB(b)
			ctx := context.Background()
			ins, err := db.Prepare(`INSERT INTO rows (run, seq, state, at) VALUES (?, ?, ?, ?)`)
			if err != nil {
				b.Fatal(err)
			}
			defer ins.Close()
			b.ResetTimer()
			rows, txs := 0, 0
			for rows < b.N {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				st := tx.Stmt(ins)
				for i := 0; i < batch && rows < b.N; i++ {
					if _, err := st.Exec("run", rows, benchState, time.Now().UnixNano()); err != nil {
						b.Fatal(err)
					}
					rows++
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				txs++
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(rows)/sec, "rows/s")
			b.ReportMetric(float64(txs)/sec, "tx/s")
		})
	}
}

// BenchmarkStore runs 5-step runs from 64 goroutines: Create (run and
// first step started), 5 Appends (a step's end, with a state snapshot,
// and the next one's start) with an empty Update, so that the header is
// not written, and a final Append ending the run. One benchmark op is
// one journaled step.
func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "journal.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	runs := int64((b.N + runSteps - 1) / runSteps)
	var next atomic.Int64
	c0, o0 := s.Commits()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
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
	c1, o1 := s.Commits()
	b.ReportMetric(float64(runs*runSteps)/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(float64(o1-o0)/float64(c1-c0), "ops/commit")
}

// driveRun journals one run as the runner does.
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

// BenchmarkBaseline does BenchmarkStore's writes (the same rows: the run
// created, entries inserted, the header updated only at the end; no
// lease check or Seq lookup) from one goroutine in plain SQL, with 64
// runs advancing in lockstep and one transaction per round of 64
// operations, the batch the Store achieves with 64 writers.
func BenchmarkBaseline(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "journal.db")
	s, err := sqlite.Open(ctx, path) // for the schema
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", path+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	prep := func(q string) *sql.Stmt {
		st, err := conn.PrepareContext(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	begin, commit := prep("BEGIN IMMEDIATE"), prep("COMMIT")
	insRun := prep(`INSERT INTO runs (id, saga, fingerprint, status, state, error, note, request_verb, request_step,
		request_note, created, updated, ended, lease_owner, lease_expiry)
		VALUES (?, 'order', 'fp', 'running', ?, '', '', '', '', '', ?, ?, 0, ?, ?)`)
	insEntry := prep(`INSERT INTO entries (run_id, seq, kind, step, attempt, attempts, error, state, status, verb, note, at)
		VALUES (?, ?, ?, ?, 1, 1, '', ?, '', '', '', ?)`)
	end := prep(`UPDATE runs SET updated = ?, status = 'succeeded', ended = ? WHERE id = ?`)
	exec := func(st *sql.Stmt, args ...any) {
		if _, err := st.ExecContext(ctx, args...); err != nil {
			b.Fatal(err)
		}
	}

	runs := (b.N + runSteps - 1) / runSteps
	b.ResetTimer()
	for first := 0; first < runs; first += workers {
		ids := make([]string, 0, workers)
		for i := first; i < min(first+workers, runs); i++ {
			ids = append(ids, fmt.Sprintf("run-%d", i))
		}
		// One round per operation of a run: create, 5 steps, end.
		for round := 0; round < runSteps+2; round++ {
			exec(begin)
			for _, id := range ids {
				now := time.Now().UnixNano()
				seq := int64(2*round + 1)
				switch {
				case round == 0:
					exec(insRun, id, benchState, now, now, "w", now+int64(time.Minute))
					exec(insEntry, id, 1, "run_started", "", nil, now)
					exec(insEntry, id, 2, "step_started", "step-0", nil, now)
				case round <= runSteps:
					exec(insEntry, id, seq, "step_succeeded", fmt.Sprintf("step-%d", round-1), benchState, now)
					exec(insEntry, id, seq+1, "step_started", fmt.Sprintf("step-%d", round), nil, now)
				default:
					exec(insEntry, id, seq, "request_done", "", nil, now)
					exec(end, now, now, id)
				}
			}
			exec(commit)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(runs*runSteps)/b.Elapsed().Seconds(), "steps/s")
}

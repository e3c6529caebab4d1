package durable_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/internal/runid"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// BenchmarkThroughputSQLite runs 5-step sagas journaled on SQLite (WAL,
// synchronous=FULL) from 1, 8 and 64 goroutines at once:
//
//   - sagakit: Definition.Run, each run's 6 writes (its creation with the
//     first step's start, each step's end with the next one's start, the
//     last step's end with the run's end) committed by the store's group
//     commit, which lets concurrent runs share fsyncs. It reports the
//     steps per second, the commits per run (fsyncs), and each run's
//     latency (p50-ms, p99-ms).
//   - raw: plain database/sql on the same schema doing the same writes
//     (the same rows and bytes, the same 6 commits per run), conc runs in
//     lockstep with one transaction per round: the batching group commit
//     achieves at best, without lease checks, Seq lookups or codec.
//
// One benchmark op is one run of 5 steps. The ratio sagakit/raw at equal
// conc is what the library costs over its own writes.
func BenchmarkThroughputSQLite(b *testing.B) {
	for _, conc := range []int{1, 8, 64} {
		b.Run("sagakit/"+strconv.Itoa(conc), func(b *testing.B) { benchSagakitSQLite(b, conc) })
		b.Run("raw/"+strconv.Itoa(conc), func(b *testing.B) { benchRawSQLite(b, conc) })
	}
}

func benchSagakitSQLite(b *testing.B, conc int) {
	counting := &countingStore{Store: openSQLite(b)}
	d, err := durable.Register(durable.NewEngine(counting), fiveSteps())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var next atomic.Int64
	lat := make([][]time.Duration, conc)
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range conc {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				st := newState()
				t0 := time.Now()
				if _, err := d.Run(ctx, &st); err != nil {
					b.Error(err)
					return
				}
				lat[g] = append(lat[g], time.Since(t0))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N*5)/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(float64(counting.creates+counting.appends)/float64(b.N), "writes/run")
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(millis(all[len(all)/2]), "p50-ms")
		b.ReportMetric(millis(all[len(all)*99/100]), "p99-ms")
	}
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// sqliteChain is the writes of one 5-step run as sagakit journals them, in
// plain SQL on the SQLite store's schema.
type sqliteChain struct {
	conn                             *sql.Conn
	begin, commit, run, entries, end *sql.Stmt
	bare, one                        *sql.Stmt // for stateWrites
	state                            []byte    // the state snapshot every write carries
	fingerprint                      string
}

// openSQLiteChain creates a journal with the store's schema at a new path
// and prepares the statements of the chain on one connection with the
// store's pragmas.
func openSQLiteChain(b *testing.B, state []byte) *sqliteChain {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "raw.db")
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
	b.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	prep := func(q string) *sql.Stmt {
		st, err := conn.PrepareContext(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	return &sqliteChain{
		conn: conn, state: state, fingerprint: fiveSteps().Plan().Fingerprint(),
		begin: prep("BEGIN IMMEDIATE"), commit: prep("COMMIT"),
		run: prep(`INSERT INTO runs (id, saga, fingerprint, status, state, error, note, request_verb, request_step,
			request_note, created, updated, ended, lease_owner, lease_expiry, wait_event, wait_until)
			VALUES (?, 'bench', ?, 'running', ?, '', '', '', '', '', ?, ?, 0, ?, ?, '', 0)`),
		// Two entries per write: a step's end and the next start.
		entries: prep(`INSERT INTO entries (run_id, seq, kind, step, attempt, attempts, error, state, status, verb, note, at)
			VALUES (?, ?, ?, ?, 1, ?, '', ?, ?, '', '', ?), (?, ?, ?, ?, 1, 0, '', NULL, ?, '', '', ?)`),
		bare: prep(`INSERT INTO runs (id, saga, fingerprint, status, error, note, request_verb, request_step,
			request_note, created, updated, ended, lease_owner, lease_expiry) VALUES (?, 'bench', '', 'running', '', '', '', '', '', 0, 0, 0, '', 0)`),
		one: prep(`INSERT INTO entries (run_id, seq, kind, step, attempt, attempts, error, state, status, verb, note, at)
			VALUES (?, ?, 'step_succeeded', '', 1, 1, '', ?, '', '', '', ?)`),
		end: prep(`UPDATE runs SET updated = ?, status = 'succeeded', state = ?, error = '', ended = ?,
			wait_event = '', wait_until = 0, wait_woken = 0, lease_owner = '', lease_expiry = 0
			WHERE id = ? AND lease_owner = ? AND lease_expiry > ?`),
	}
}

func (c *sqliteChain) exec(b *testing.B, st *sql.Stmt, args ...any) {
	if _, err := st.ExecContext(context.Background(), args...); err != nil {
		b.Fatal(err)
	}
}

// write does write w (0: creation, 1-4: steps, 5: the end) of run id.
func (c *sqliteChain) write(b *testing.B, id string, w, steps int) {
	now := time.Now().UnixNano()
	seq := int64(2*w + 1)
	switch {
	case w == 0:
		c.exec(b, c.run, id, c.fingerprint, c.state, now, now, "owner", now+int64(time.Minute))
		c.exec(b, c.entries, id, 1, "run_started", "", 0, c.state, "", now,
			id, 2, "step_started", "step0", "", now)
	case w < steps:
		c.exec(b, c.entries, id, seq, "step_succeeded", "step"+strconv.Itoa(w-1), 1, c.state, "", now,
			id, seq+1, "step_started", "step"+strconv.Itoa(w), "", now)
	default:
		c.exec(b, c.entries, id, seq, "step_succeeded", "step"+strconv.Itoa(w-1), 1, c.state, "", now,
			id, seq+1, "run_ended", "", "succeeded", now)
		c.exec(b, c.end, now, c.state, now, id, "owner", now)
	}
}

// rounds writes runs ids in lockstep, one transaction per round of
// writes, steps+1 rounds.
func (c *sqliteChain) rounds(b *testing.B, ids []string, steps int) {
	for w := 0; w <= steps; w++ {
		c.exec(b, c.begin)
		for _, id := range ids {
			c.write(b, id, w, steps)
		}
		c.exec(b, c.commit)
	}
}

// stateWrites makes writes commits for run id, each inserting one row
// that holds the state: the state written once per commit, as plainly as
// SQL writes it.
func (c *sqliteChain) stateWrites(b *testing.B, id string, writes int) {
	for w := range writes {
		c.exec(b, c.begin)
		if w == 0 {
			c.exec(b, c.bare, id)
		}
		c.exec(b, c.one, id, w+1, c.state, time.Now().UnixNano())
		c.exec(b, c.commit)
	}
}

func benchRawSQLite(b *testing.B, conc int) {
	st := newState()
	st.Items = []int{4}
	snap, err := json.Marshal(&st)
	if err != nil {
		b.Fatal(err)
	}
	c := openSQLiteChain(b, snap)
	b.ResetTimer()
	ids := make([]string, 0, conc)
	for first := 0; first < b.N; first += conc {
		ids = ids[:0]
		for i := first; i < min(first+conc, b.N); i++ {
			ids = append(ids, runid.New(time.Now())) // as long as the library's
		}
		c.rounds(b, ids, 5)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*5)/b.Elapsed().Seconds(), "steps/s")
}

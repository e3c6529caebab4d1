package durable_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
	"github.com/sagakit/sagakit/saga"
)

// BenchmarkFleetPostgres measures a fleet of worker processes draining a
// backlog on PostgreSQL, with 1 worker and with 2: runs of a saga of 5
// no-op steps, journaled as pending with Definition.Start while the
// workers are idle, then driven by the first worker process alone, or by
// both (the test binary run again as TestFleetBenchWorker), each with its
// own pool and an Engine.Work of the default concurrency (16 runs at
// once; SAGAKIT_BENCH_FLEET_CONCURRENCY=n sets it). The b.N runs go in
// rounds of 500, drained by 1 and 2 workers in turn, so that both see the
// same server and the same table; a round is timed from the moment the
// workers are told to go until no run is left unfinished (the parent
// polls List every 2ms). It reports the steps/s of each, their ratio, and
// the share of the 2-worker rounds' runs the busier worker drove. With
// SAGAKIT_BENCH_FLEET_CPUPROFILE=prefix, each worker writes its CPU
// profile to prefix-worker-N.pprof. Run it with a fixed backlog, e.g.
//
//	SAGAKIT_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench FleetPostgres -benchtime 6000x -count 3 ./durable
func BenchmarkFleetPostgres(b *testing.B) {
	dsn := pgBenchDSN(b)
	concurrency := 16
	if n, err := strconv.Atoi(os.Getenv("SAGAKIT_BENCH_FLEET_CONCURRENCY")); err == nil && n > 0 {
		concurrency = n
	}
	b.StopTimer()
	ctx := context.Background()
	schema := pgBenchSchema(b, dsn, "fleet_bench_")
	store, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	var none atomic.Int64
	d, err := durable.Register(durable.NewEngine(store, durable.WithOwner("producer")), fleetSaga(&none))
	if err != nil {
		b.Fatal(err)
	}
	procs := make([]*fleetProc, 2)
	for i := range procs {
		procs[i] = startFleetWorker(b, fleetPlan{Schema: schema, Owner: fmt.Sprintf("worker-%d", i), Concurrency: concurrency})
	}

	const round = 500
	var (
		elapsed [3]time.Duration // by number of workers
		runs    [3]int
		busier  int // runs the busier worker drove in the 2-worker rounds
	)
	unfinished := journal.Filter{Status: []journal.Status{journal.Pending, journal.Running, journal.Compensating}, Limit: 1}
	for k, left := 0, b.N; left > 0; k++ {
		n, workers := min(round, left), 1+k%2
		left -= n
		startBacklog(b, d, n)
		b.StartTimer()
		t0 := time.Now()
		for _, p := range procs[:workers] {
			p.send(b, "go")
		}
		for {
			left, err := store.List(ctx, unfinished)
			if err != nil {
				b.Fatal(err)
			}
			if len(left) == 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		elapsed[workers] += time.Since(t0)
		b.StopTimer()
		runs[workers] += n
		var driven [2]int
		for i, p := range procs[:workers] {
			driven[i] = p.stop(b)
		}
		if workers == 2 {
			busier += max(driven[0], driven[1])
		}
	}
	for _, p := range procs {
		p.exit(b)
	}
	rate := func(w int) float64 { return float64(runs[w]*fleetSteps) / elapsed[w].Seconds() }
	if runs[1] > 0 {
		b.ReportMetric(rate(1), "1-worker-steps/s")
	}
	if runs[2] > 0 {
		b.ReportMetric(rate(2), "2-workers-steps/s")
		b.ReportMetric(float64(busier)/float64(runs[2]), "busier-share")
	}
	if runs[1] > 0 && runs[2] > 0 {
		b.ReportMetric(rate(2)/rate(1), "2/1")
	}
	done, err := store.List(ctx, journal.Filter{Status: []journal.Status{journal.Succeeded}})
	if err != nil {
		b.Fatal(err)
	}
	if len(done) != b.N {
		b.Fatalf("%d runs succeeded, want %d", len(done), b.N)
	}
}

const (
	fleetWorkerEnv = "SAGAKIT_FLEET_BENCH_WORKER" // a worker's plan, as JSON
	fleetSteps     = 5
	fleetReady     = "fleet-worker: ready"
	fleetStopped   = "fleet-worker: stopped, runs driven: "
)

// fleetPlan is what the benchmark asks of a worker process.
type fleetPlan struct {
	Schema      string
	Owner       string
	Concurrency int
}

// fleetSaga is the benchmark's saga; started counts the runs whose first
// step this process ran.
func fleetSaga(started *atomic.Int64) *saga.Saga[benchState] {
	sb := saga.New[benchState]().Name("fleet")
	for i := range fleetSteps {
		sb.Step("step"+strconv.Itoa(i), func(context.Context, *benchState) error {
			if i == 0 {
				started.Add(1)
			}
			return nil
		}, func(context.Context, *benchState) error { return nil })
	}
	return sb.Build()
}

// startBacklog starts n runs of d from 64 goroutines, so that the Starts
// share commits.
func startBacklog(b *testing.B, d *durable.Definition[benchState], n int) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				st := newState()
				if _, err := d.Start(context.Background(), &st); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// fleetProc is a running worker process.
type fleetProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr strings.Builder
}

// startFleetWorker starts a worker process and waits until it is ready.
func startFleetWorker(b *testing.B, plan fleetPlan) *fleetProc {
	b.Helper()
	js, err := json.Marshal(plan)
	if err != nil {
		b.Fatal(err)
	}
	p := &fleetProc{cmd: exec.Command(os.Args[0], "-test.run=^TestFleetBenchWorker$", "-test.count=1")}
	p.cmd.Env = append(os.Environ(), fleetWorkerEnv+"="+string(js))
	p.cmd.Stderr = &p.stderr
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	p.lines = bufio.NewScanner(out)
	if !p.await(fleetReady) {
		_ = p.cmd.Wait()
		b.Fatalf("worker %s did not start: %s", plan.Owner, p.stderr.String())
	}
	return p
}

// await reads the worker's output until a line that starts with prefix,
// and reports whether it came.
func (p *fleetProc) await(prefix string) bool {
	for p.lines.Scan() {
		if strings.HasPrefix(p.lines.Text(), prefix) {
			return true
		}
	}
	return false
}

func (p *fleetProc) send(b *testing.B, line string) {
	b.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		b.Fatal(err)
	}
}

// stop stops the worker's Work and returns how many runs it drove since
// it was told to go.
func (p *fleetProc) stop(b *testing.B) int {
	b.Helper()
	p.send(b, "stop")
	if !p.await(fleetStopped) {
		_ = p.cmd.Wait()
		b.Fatalf("worker: %s", p.stderr.String())
	}
	n, err := strconv.Atoi(strings.TrimPrefix(p.lines.Text(), fleetStopped))
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// exit ends the worker and waits for it.
func (p *fleetProc) exit(b *testing.B) {
	b.Helper()
	_ = p.stdin.Close()
	for p.lines.Scan() {
	}
	if err := p.cmd.Wait(); err != nil {
		b.Fatalf("worker: %v\n%s", err, p.stderr.String())
	}
}

// TestFleetBenchWorker is a worker process of BenchmarkFleetPostgres; it
// runs only when the benchmark starts it. It opens the store, registers
// the saga and says it is ready; then each line "go" on its standard
// input starts Engine.Work, and each "stop" stops it and says how many
// runs it drove meanwhile, until that input ends.
func TestFleetBenchWorker(t *testing.T) {
	env := os.Getenv(fleetWorkerEnv)
	if env == "" {
		t.Skip("runs only as a worker process of BenchmarkFleetPostgres")
	}
	var plan fleetPlan
	if err := json.Unmarshal([]byte(env), &plan); err != nil {
		t.Fatal(err)
	}
	store, err := postgres.Open(context.Background(), os.Getenv("SAGAKIT_POSTGRES_DSN"), postgres.WithSchema(plan.Schema))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e := durable.NewEngine(store, durable.WithOwner(plan.Owner), durable.WithConcurrency(plan.Concurrency),
		durable.WithLogger(logger))
	var driven atomic.Int64
	if _, err := durable.Register(e, fleetSaga(&driven)); err != nil {
		t.Fatal(err)
	}
	if prefix := os.Getenv("SAGAKIT_BENCH_FLEET_CPUPROFILE"); prefix != "" {
		f, err := os.Create(prefix + "-" + plan.Owner + ".pprof")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Println(fleetReady)
	var (
		stop   context.CancelFunc = func() {}
		worked chan error
	)
	for in := bufio.NewScanner(os.Stdin); in.Scan(); {
		switch in.Text() {
		case "go":
			var ctx context.Context
			ctx, stop = context.WithCancel(context.Background())
			worked = make(chan error, 1)
			go func() { worked <- e.Work(ctx, time.Second) }()
		case "stop":
			stop()
			if err := <-worked; !errors.Is(err, context.Canceled) {
				t.Fatalf("Work: %v", err)
			}
			fmt.Printf("%s%d\n", fleetStopped, driven.Swap(0))
		default:
			t.Fatalf("unknown command %q", in.Text())
		}
	}
	stop()
}

// BenchmarkPostgresLone measures one run at a time on PostgreSQL, where
// each step waits for a commit: Definition.Run of a saga of 5 no-op steps
// (fiveSteps, a ~100-byte state), against the same writes done in plain
// pgx (pgChain), one transaction per write, on one connection: the run
// with its first entries, each step's end with the next one's start and
// the header's last_seq, the last step's end with the run's end and its
// header, and the lease's release
// (7 commits, as Run made until its last write released the lease),
// without lease checks, Seq lookups or wake-ups. Run now makes 6 commits,
// the release in the last: pgx6 does the same writes in 6 commits too.
// Each op does one of each, in turn, so that all see the same server; it
// reports the steps/s of each and the ratios (durable/pgx, the figure
// followed since the release was a commit of its own, and durable/pgx6).
//
//	SAGAKIT_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench PostgresLone -benchtime 3s -count 5 ./durable
func BenchmarkPostgresLone(b *testing.B) {
	dsn := pgBenchDSN(b)
	ctx := context.Background()
	store, err := postgres.Open(ctx, dsn, postgres.WithSchema(pgBenchSchema(b, dsn, "lone_bench_")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	d, err := durable.Register(durable.NewEngine(store), fiveSteps())
	if err != nil {
		b.Fatal(err)
	}
	raw := newPgChain(b, dsn, pgBenchSchema(b, dsn, "lone_pgx_"))

	var inRun, inRaw, inRaw6 time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		st := newState()
		if _, err := d.Run(ctx, &st); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := raw.run(ctx, fmt.Sprintf("run-%d", i), false); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := raw.run(ctx, fmt.Sprintf("run6-%d", i), true); err != nil {
			b.Fatal(err)
		}
		inRun, inRaw, inRaw6 = inRun+t1.Sub(t0), inRaw+t2.Sub(t1), inRaw6+time.Since(t2)
	}
	steps := float64(b.N * 5)
	b.ReportMetric(steps/inRun.Seconds(), "durable-steps/s")
	b.ReportMetric(steps/inRaw.Seconds(), "pgx-steps/s")
	b.ReportMetric(steps/inRaw6.Seconds(), "pgx6-steps/s")
	b.ReportMetric(inRaw.Seconds()/inRun.Seconds(), "durable/pgx")
	b.ReportMetric(inRaw6.Seconds()/inRun.Seconds(), "durable/pgx6")
}

// pgChain writes what Definition.Run writes for runs of fiveSteps, in
// plain pgx on one connection, without lease checks, Seq lookups or
// wake-ups: pgRounds commits a run, the run with its first entries, then
// each step's end with the next one's start and the header's last_seq
// (which the store's append moves), the last with the run's end, its
// header and (release) the lease's release.
type pgChain struct {
	conn                               *pgx.Conn
	insRun, insEntry, seq, end, unlock string
	state                              []byte
}

// pgRounds is the number of commits of a run in pgChain.
const pgRounds = 6

// newPgChain creates the journal's tables in schema (a postgres.Store
// opened and closed) and connects to the server.
func newPgChain(b *testing.B, dsn, schema string) *pgChain {
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema)) // for the tables
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(ctx) })
	state, err := json.Marshal(newState())
	if err != nil {
		b.Fatal(err)
	}
	runs, entries := pgx.Identifier{schema, "runs"}.Sanitize(), pgx.Identifier{schema, "entries"}.Sanitize()
	return &pgChain{
		conn: conn,
		insRun: `INSERT INTO ` + runs + ` (id, saga, fingerprint, status, state, error, note, request_verb, request_step,
			request_note, created, updated, ended, lease_owner, lease_expiry, last_seq)
			VALUES ($1, 'bench', 'fp', 'running', $2, '', '', '', '', '', $3, $3, 0, 'w', $4, 2)`,
		insEntry: `INSERT INTO ` + entries + ` (run_id, seq, kind, step, attempt, attempts, error, state, status, verb, note, at)
			VALUES ($1, $2, $3, $4, 1, 1, '', $5, $6, '', '', $7)`,
		seq:    `UPDATE ` + runs + ` SET last_seq = $1 WHERE id = $2`,
		end:    `UPDATE ` + runs + ` SET updated = $1, status = 'succeeded', state = $2, ended = $1, last_seq = $3 WHERE id = $4`,
		unlock: `UPDATE ` + runs + ` SET lease_owner = '', lease_expiry = 0 WHERE id = $1 AND lease_owner = 'w'`,
		state:  state,
	}
}

// queue adds to b run id's writes of round k (0 to pgRounds-1).
func (r *pgChain) queue(b *pgx.Batch, id string, k int, release bool) {
	now := time.Now().UnixNano()
	if k == 0 {
		b.Queue(r.insRun, id, r.state, now, now+int64(30*time.Second))
		b.Queue(r.insEntry, id, 1, "run_started", "", r.state, "", now)
		b.Queue(r.insEntry, id, 2, "step_started", "step0", nil, "", now)
		return
	}
	step, seq := k-1, 2*k+1
	b.Queue(r.insEntry, id, seq, "step_succeeded", "step"+strconv.Itoa(step), r.state, "", now)
	if step < pgRounds-2 {
		b.Queue(r.insEntry, id, seq+1, "step_started", "step"+strconv.Itoa(step+1), nil, "", now)
		b.Queue(r.seq, seq+1, id)
		return
	}
	b.Queue(r.insEntry, id, seq+1, "run_ended", "", nil, "succeeded", now)
	b.Queue(r.end, now, r.state, seq+1, id)
	if release {
		b.Queue(r.unlock, id)
	}
}

func (r *pgChain) commit(ctx context.Context, b *pgx.Batch) error {
	return r.conn.SendBatch(ctx, b).Close()
}

// runs writes the runs ids in lockstep, one transaction per round holding
// every run's writes of that round: the batching of a store whose writer
// takes the next write of every run in flight at once.
func (r *pgChain) runs(ctx context.Context, ids []string) error {
	for k := range pgRounds {
		b := &pgx.Batch{}
		for _, id := range ids {
			r.queue(b, id, k, true)
		}
		if err := r.commit(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// run writes run id alone, one transaction per round, and the lease's
// release in the last (fold) or in one more.
func (r *pgChain) run(ctx context.Context, id string, fold bool) error {
	if fold {
		return r.runs(ctx, []string{id})
	}
	for k := range pgRounds {
		b := &pgx.Batch{}
		r.queue(b, id, k, false)
		if err := r.commit(ctx, b); err != nil {
			return err
		}
	}
	b := &pgx.Batch{}
	b.Queue(r.unlock, id)
	return r.commit(ctx, b)
}

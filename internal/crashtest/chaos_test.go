//go:build unix

package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// The chaos campaign: sequential and graph sagas, some waiting for an
// event or a timer, run by several worker processes (Engine.Work) on one
// journal, SQLite and then PostgreSQL, while the controller (the test)
// injects faults at random and an operator process races verbs against
// the workers. Then the faults stop, healthy workers drain what is left,
// and the checker (chaos_check_test.go) reads the journal and the
// execution ledger (chaos_world_test.go).
//
// Environment (all optional):
//
//	SAGAKIT_CHAOS_RUNS        runs per store (default: a short campaign,
//	                          see chaosShortRuns); setting it also runs
//	                          the PostgreSQL half without SAGAKIT_POSTGRES_DSN
//	                          when PostgreSQL's binaries are installed
//	SAGAKIT_CHAOS_SEED        the seed (default: from the clock; printed)
//	SAGAKIT_CHAOS_FAULT_EVERY the mean interval between faults (default 400ms)
//	SAGAKIT_CHAOS_WORKERS     worker processes (default 3)

// chaosConfig is a campaign's configuration.
type chaosConfig struct {
	runs       int
	seed       uint64
	workers    int
	conc       int
	ttl        time.Duration
	poll       time.Duration
	faultEvery time.Duration
	opEvery    time.Duration
	window     int // runs started and not ended, at most
	asked      bool
}

func chaosConfigOf(t *testing.T) chaosConfig {
	t.Helper()
	c := chaosConfig{runs: chaosShortRuns, workers: 3, conc: 8, ttl: time.Second, poll: 100 * time.Millisecond,
		faultEvery: 400 * time.Millisecond, opEvery: 40 * time.Millisecond, window: 48}
	c.seed = uint64(time.Now().UnixNano())
	num := func(env string, set func(string) error) {
		if v := os.Getenv(env); v != "" {
			if err := set(v); err != nil {
				t.Fatalf("%s=%q: %v", env, v, err)
			}
		}
	}
	num("SAGAKIT_CHAOS_RUNS", func(v string) (err error) { c.runs, err = strconv.Atoi(v); c.asked = true; return })
	num("SAGAKIT_CHAOS_SEED", func(v string) (err error) { c.seed, err = strconv.ParseUint(v, 10, 64); return })
	num("SAGAKIT_CHAOS_WORKERS", func(v string) (err error) { c.workers, err = strconv.Atoi(v); return })
	num("SAGAKIT_CHAOS_FAULT_EVERY", func(v string) (err error) { c.faultEvery, err = time.ParseDuration(v); return })
	if c.runs < 1 || c.workers < 2 || c.faultEvery <= 0 {
		t.Fatalf("chaos: runs %d, workers %d, fault interval %v: want at least 1 run, 2 workers, an interval > 0", c.runs, c.workers, c.faultEvery)
	}
	return c
}

// The kinds of fault.
const (
	faultKill      = "kill"       // SIGKILL a worker, start another in its place
	faultStop      = "stop"       // SIGSTOP a worker past its lease, then SIGCONT
	faultDisk      = "disk"       // a disk write error window in a worker (SQLite)
	faultRestart   = "pg_restart" // restart PostgreSQL, fast or immediate
	faultConnKill  = "conn_kill"  // pg_terminate_backend the campaign's connections
	faultVerbs     = "verbs"      // operator verbs (the operator process's)
	faultStopSkips = "stop_not_outside_a_transaction"
)

// chaosFigures are what a campaign did and found.
type chaosFigures struct {
	runs       int
	statuses   map[journal.Status]int
	faults     map[string]int
	violations []chaosViolation
	elapsed    time.Duration
}

func (f chaosFigures) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d runs in %v; ends:", f.runs, f.elapsed.Round(time.Second))
	for _, s := range slices.Sorted(maps.Keys(f.statuses)) {
		fmt.Fprintf(&b, " %s %d", s, f.statuses[s])
	}
	b.WriteString("; faults:")
	for _, k := range []string{faultKill, faultStop, faultRestart, faultConnKill, faultVerbs, faultDisk} {
		fmt.Fprintf(&b, " %s %d", k, f.faults[k])
	}
	for _, k := range slices.Sorted(maps.Keys(f.faults)) {
		if !slices.Contains([]string{faultKill, faultStop, faultRestart, faultConnKill, faultVerbs, faultDisk}, k) {
			fmt.Fprintf(&b, " (%s %d)", k, f.faults[k])
		}
	}
	fmt.Fprintf(&b, "; violations: %d", len(f.violations))
	kinds := map[string]int{}
	for _, v := range f.violations {
		kinds[v.kind]++
	}
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		fmt.Fprintf(&b, " (%s %d)", k, kinds[k])
	}
	return b.String()
}

func (f *chaosFigures) add(g chaosFigures) {
	f.runs += g.runs
	f.elapsed += g.elapsed
	for k, v := range g.statuses {
		f.statuses[k] += v
	}
	for k, v := range g.faults {
		f.faults[k] += v
	}
	f.violations = append(f.violations, g.violations...)
}

// TestChaos runs the campaign on SQLite, then on PostgreSQL (see
// chaosPostgres), and fails if the checker found a violation.
func TestChaos(t *testing.T) {
	cfg := chaosConfigOf(t)
	t.Logf("chaos: seed %d (replay with SAGAKIT_CHAOS_SEED=%d), %d runs per store, %d workers, fault every %v on average",
		cfg.seed, cfg.seed, cfg.runs, cfg.workers, cfg.faultEvery)
	total := chaosFigures{statuses: map[journal.Status]int{}, faults: map[string]int{}}
	for i, kind := range []string{sqliteStore, postgresStore} {
		t.Run(kind, func(t *testing.T) {
			var pg *chaosPG
			if kind == postgresStore {
				if pg = chaosPostgres(t, cfg); pg == nil {
					t.SkipNow()
				}
			}
			c := cfg
			c.seed = cfg.seed + uint64(i)
			f := chaosCampaign(t, c, kind, pg)
			t.Logf("chaos %s: %s", kind, f)
			total.add(f)
		})
	}
	t.Logf("chaos: seed %d: %s", cfg.seed, total)
}

// chaosPG is where the PostgreSQL half runs.
type chaosPG struct {
	dsn     string
	cluster *pgCluster // nil: the shared server of SAGAKIT_POSTGRES_DSN, not restarted
}

// chaosPostgres returns the server of the PostgreSQL half, or nil to run
// on SQLite only. It runs when SAGAKIT_POSTGRES_DSN is set, or when a
// campaign size was asked for: on a cluster of its own if PostgreSQL's
// binaries are installed (with restarts), else on the shared server
// without restarts. With SAGAKIT_REQUIRE_POSTGRES=1, as in CI, a
// PostgreSQL half that cannot run fails the test.
func chaosPostgres(t *testing.T, cfg chaosConfig) *chaosPG {
	t.Helper()
	dsn := os.Getenv(postgresDSNEnv)
	skip := func(why string) *chaosPG {
		if os.Getenv(postgresRequiredEnv) == "1" {
			t.Fatalf("PostgreSQL required (%s=1), but %s", postgresRequiredEnv, why)
		}
		t.Logf("chaos: SQLite only: %s", why)
		return nil
	}
	if dsn == "" && !cfg.asked {
		return skip(postgresDSNEnv + " is not set")
	}
	if bin := pgBinDir(); bin != "" {
		c := startPGCluster(t, bin)
		t.Logf("chaos: PostgreSQL of its own (%s), port %d", bin, c.port)
		return &chaosPG{dsn: c.dsn(), cluster: c}
	}
	if dsn == "" {
		return skip("PostgreSQL's binaries are not installed (/usr/lib/postgresql/*/bin) and " + postgresDSNEnv + " is not set")
	}
	t.Logf("chaos: PostgreSQL's binaries are not installed (/usr/lib/postgresql/*/bin): the shared server of %s, without restarts", postgresDSNEnv)
	return &chaosPG{dsn: dsn}
}

// lockedBuffer is a process's output, read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// lines returns the report lines of the process (see chaosOut).
func (b *lockedBuffer) lines(t *testing.T) []chaosLine {
	t.Helper()
	var out []chaosLine
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		s, ok := strings.CutPrefix(sc.Text(), chaosPrefix)
		if !ok {
			continue
		}
		var l chaosLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Errorf("report line %q: %v", s, err)
			continue
		}
		out = append(out, l)
	}
	return out
}

// chaosProc is a process of the campaign.
type chaosProc struct {
	plan chaosPlan
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
}

// startChaos starts the test binary as the campaign process of plan p; it
// is killed when the test ends, if it has not exited by then.
func startChaos(t *testing.T, p chaosPlan) *chaosProc {
	t.Helper()
	c := &chaosProc{plan: p}
	c.cmd, c.done = startChild(t, "TestChaosChild", p.Owner, p, &c.out)
	return c
}

// ready reports whether the process has said it is ready.
func (c *chaosProc) ready() bool {
	return strings.Contains(c.out.String(), chaosPrefix+`{"ev":"ready"}`)
}

func (c *chaosProc) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop ends the process with SIGTERM and waits up to a minute for it to
// exit with code noCrash.
func (c *chaosProc) stop(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGCONT)
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(time.Minute):
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Errorf("%s did not stop within a minute of SIGTERM; its output:\n%s", c.plan.Owner, c.out.String())
		return
	}
	ws, _ := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Exited() || ws.ExitStatus() != noCrash {
		t.Errorf("%s did not exit with code %d (%v); its output:\n%s", c.plan.Owner, noCrash, c.cmd.ProcessState, c.out.String())
	}
}

// frozen is a stretch of time a worker was stopped (SIGSTOP to SIGCONT),
// in Unix nanoseconds.
type frozen struct{ from, to int64 }

// chaosRun is a run the campaign starts: its saga and its plan.
type chaosRun struct {
	id   string
	saga string
	o    corder
}

// chaosRuns draws the campaign's runs: a third sequential (a quarter of
// those compensated after a crash rather than carried on), a third graph
// runs, the rest paused on failure; a fifth fail at a step (the pause
// saga's once), a quarter of the others wait at their wait step for an
// event (up to 4s) or a timer (up to 0.8s).
func chaosRuns(rng *rand.Rand, n int) []chaosRun {
	runs := make([]chaosRun, n)
	for i := range runs {
		r := chaosRun{id: fmt.Sprintf("chaos-%05d", i)}
		switch x := rng.IntN(100); {
		case x < 30:
			r.saga = seqSaga
		case x < 40:
			r.saga = seqcSaga
		case x < 75:
			r.saga = graphSaga
		default:
			r.saga = pauseSaga
		}
		steps := chaosSteps[r.saga]
		r.o = corder{N: i, Work: time.Duration(rng.IntN(10)) * time.Millisecond}
		if rng.IntN(5) == 0 {
			r.o.FailAt = steps[rng.IntN(len(steps))].name
		}
		if r.saga != pauseSaga && rng.IntN(4) == 0 {
			if rng.IntN(3) == 0 {
				r.o.Wait, r.o.For = waitSleep, time.Duration(100+rng.IntN(700))*time.Millisecond
			} else {
				r.o.Wait, r.o.For = waitAwait, time.Duration(1000+rng.IntN(3000))*time.Millisecond
			}
		}
		runs[i] = r
	}
	return runs
}

// chaosWorld is the campaign's running world: its processes, its store
// and its faults.
type chaosWorld struct {
	t       *testing.T
	cfg     chaosConfig
	base    chaosPlan
	pg      *chaosPG
	rng     *rand.Rand
	workers []*chaosProc // the live ones, by slot
	all     []*chaosProc // every process started
	gens    []int        // each slot's generation
	faults  map[string]int
	frozen  map[string][]frozen // by owner
	probes  []*lockProbe
	stopped *chaosProc // the worker stopped now, if any
	thawAt  time.Time
	since   int64 // when stopped was stopped
}

func (w *chaosWorld) startWorker(slot int) {
	p := w.base
	p.Role = chaosWorkerRole
	p.Owner = fmt.Sprintf("worker-%d-%d", slot+1, w.gens[slot])
	p.Seed = w.cfg.seed*1000 + uint64(slot*100+w.gens[slot])
	w.gens[slot]++
	c := startChaos(w.t, p)
	w.workers[slot] = c
	w.all = append(w.all, c)
}

// live returns a random worker slot whose process is ready (its engine
// works) and not stopped, or -1 if there is none.
func (w *chaosWorld) live() int {
	var slots []int
	for slot, c := range w.workers {
		if c != w.stopped && c.ready() {
			slots = append(slots, slot)
		}
	}
	if len(slots) == 0 {
		return -1
	}
	return slots[w.rng.IntN(len(slots))]
}

// thaw continues the stopped worker.
func (w *chaosWorld) thaw() {
	if w.stopped == nil {
		return
	}
	if err := w.stopped.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		w.t.Errorf("SIGCONT %s: %v", w.stopped.plan.Owner, err)
	}
	owner := w.stopped.plan.Owner
	w.frozen[owner] = append(w.frozen[owner], frozen{w.since, time.Now().UnixNano()})
	w.stopped = nil
}

// inject injects one fault of kind.
func (w *chaosWorld) inject(ctx context.Context, kind string) {
	t := w.t
	slot := w.live()
	if slot < 0 && (kind == faultKill || kind == faultStop || kind == faultDisk) {
		w.faults[kind+"_skipped"]++ // no worker ready
		return
	}
	switch kind {
	case faultKill:
		c := w.workers[slot]
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("SIGKILL %s: %v", c.plan.Owner, err)
		}
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not die within 10s of SIGKILL", c.plan.Owner)
		}
		if ws, _ := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("%s did not die of SIGKILL (%v); its output:\n%s", c.plan.Owner, c.cmd.ProcessState, c.out.String())
		}
		w.startWorker(slot)
	case faultStop:
		if w.stopped != nil {
			return
		}
		c := w.workers[slot]
		at, ok := chaosFreeze(ctx, c, w.probes)
		if !ok {
			w.faults[faultStopSkips]++
			return
		}
		w.stopped, w.since = c, at.UnixNano()
		// Past the lease: its runs' leases expire, others take them over.
		w.thawAt = at.Add(w.cfg.ttl + time.Duration(w.rng.Int64N(int64(w.cfg.ttl))))
	case faultDisk:
		c := w.workers[slot]
		if err := c.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatalf("SIGUSR1 %s: %v", c.plan.Owner, err)
		}
	case faultRestart:
		mode := "fast"
		if w.rng.IntN(2) == 0 {
			mode = "immediate"
		}
		if err := w.pg.cluster.restart(mode); err != nil {
			t.Fatal(err)
		}
		w.faults[kind+"_"+mode]++
	case faultConnKill:
		n, err := terminateChaos(ctx, w.pg.dsn, w.base.Store.App)
		if err != nil {
			t.Errorf("terminate the campaign's connections: %v", err)
			return
		}
		w.faults["backends_terminated"] += n
	}
	w.faults[kind]++
}

// chaosFreeze stops c with SIGSTOP at a moment when it holds none of the
// probed files' write locks (see freeze), trying a few times; it reports
// false if it could not.
func chaosFreeze(ctx context.Context, c *chaosProc, probes []*lockProbe) (time.Time, bool) {
	for try := 1; try <= 20; try++ {
		at := time.Now()
		if c.cmd.Process.Signal(syscall.SIGSTOP) != nil || !waitStopped(c.cmd.Process.Pid) {
			return time.Time{}, false
		}
		free := true
		for _, p := range probes {
			if !p.free(ctx) {
				free = false
				break
			}
		}
		if free {
			return at, true
		}
		_ = c.cmd.Process.Signal(syscall.SIGCONT)
		time.Sleep(time.Duration(5+try*3) * time.Millisecond)
	}
	return time.Time{}, false
}

// chaosCampaign runs the campaign on a store of kind.
func chaosCampaign(t *testing.T, cfg chaosConfig, kind string, pg *chaosPG) chaosFigures {
	ctx := t.Context()
	began := time.Now()
	dir := t.TempDir()
	base := chaosPlan{Part: dir + "/participant.db", TTL: cfg.ttl, Conc: cfg.conc, Poll: cfg.poll, Every: cfg.opEvery}
	if err := createChaosParticipant(base.Part); err != nil {
		t.Fatal(err)
	}
	w := &chaosWorld{t: t, cfg: cfg, pg: pg, rng: rand.New(rand.NewPCG(cfg.seed, 0)),
		faults: map[string]int{}, frozen: map[string][]frozen{}}
	w.probes = append(w.probes, newLockProbe(t, base.Part))
	deck := []string{faultKill, faultKill, faultStop}
	switch kind {
	case sqliteStore:
		base.Store = chaosStore{Kind: sqliteStore, Path: dir + "/journal.db"}
		w.probes = append(w.probes, newLockProbe(t, base.Store.Path))
		deck = append(deck, faultDisk, faultDisk)
	case postgresStore:
		base.Store = chaosStore{Kind: postgresStore, DSN: pg.dsn, Schema: newSchemaName(),
			App: fmt.Sprintf("%s_%d", chaosApp, os.Getpid())}
		schema := base.Store.Schema
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := dropPostgres(ctx, pg.dsn, schema); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
		})
		deck = append(deck, faultConnKill, faultConnKill)
		if pg.cluster != nil {
			deck = append(deck, faultRestart)
		}
	}
	w.base = base
	store, err := base.Store.open(ctx, "controller")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	part, err := openParticipant(base.Part, "controller")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { part.Close() })
	engine := durable.NewEngine(store, durable.WithOwner("controller"), durable.WithLeaseTTL(cfg.ttl))
	defs, err := registerChaos(engine, part)
	if err != nil {
		t.Fatal(err)
	}

	// The processes.
	w.workers, w.gens = make([]*chaosProc, cfg.workers), make([]int, cfg.workers)
	for slot := range cfg.workers {
		w.startWorker(slot)
	}
	op := base
	op.Role, op.Owner, op.Seed = chaosOperatorRole, "operator", cfg.seed*1000+999
	operator := startChaos(t, op)
	w.all = append(w.all, operator)

	// The runs, started by a producer that keeps at most cfg.window
	// runs unfinished, retrying each Start until the journal takes it
	// (Start is idempotent for an ID and a state).
	runs := chaosRuns(rand.New(rand.NewPCG(cfg.seed, 1)), cfg.runs)
	var produced atomic.Int64
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		for i, r := range runs {
			deadline := time.Now().Add(2 * time.Minute)
			for i%8 == 0 && ctx.Err() == nil {
				open, err := store.List(ctx, journal.Filter{Status: unfinished, Limit: cfg.window})
				if err == nil && len(open) < cfg.window {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("%d runs started, and for two minutes %d of them have not ended (%v)", i, len(open), err)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			for {
				o := r.o
				_, err := defs[r.saga].Start(saga.WithRunID(ctx, r.id), &o)
				if err == nil {
					break
				}
				if ctx.Err() != nil || time.Now().After(deadline) {
					t.Errorf("start %s: %v", r.id, err)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			produced.Add(1)
		}
	}()

	// The faults, until every run is started: from a deck shuffled
	// anew each round, so that each kind comes as often.
	var hand []string
	next, report := time.Now(), time.Now().Add(5*time.Second)
	for waiting := true; waiting; {
		select {
		case <-producerDone:
			waiting = false
			continue
		case <-time.After(10 * time.Millisecond):
		}
		if w.stopped != nil && time.Now().After(w.thawAt) {
			w.thaw()
		}
		for _, c := range w.workers {
			if c.exited() {
				t.Fatalf("%s exited on its own (%v); its output:\n%s", c.plan.Owner, c.cmd.ProcessState, c.out.String())
			}
		}
		if operator.exited() {
			t.Fatalf("the operator exited on its own (%v); its output:\n%s", operator.cmd.ProcessState, operator.out.String())
		}
		if time.Now().After(report) {
			t.Logf("chaos %s: %v: %d runs started; faults %v", kind, time.Since(began).Round(time.Second), produced.Load(), w.faults)
			report = time.Now().Add(5 * time.Second)
		}
		if time.Now().Before(next) {
			continue
		}
		if len(hand) == 0 {
			hand = slices.Clone(deck)
			w.rng.Shuffle(len(hand), func(i, j int) { hand[i], hand[j] = hand[j], hand[i] })
		}
		w.inject(ctx, hand[0])
		hand = hand[1:]
		next = time.Now().Add(time.Duration(w.rng.Int64N(int64(2 * cfg.faultEvery))))
	}
	if t.Failed() {
		t.FailNow()
	}
	w.thaw()
	faultsEnded := time.Now()

	// Recovery: the operator stops; the controller, as the person and the
	// event's sender, signals the waiting runs and answers the paused
	// ones, until every run has ended; then the workers stop, and the
	// controller's own engine recovers what may be left.
	operator.stop(t)
	chaosDrain(ctx, t, store, runs, 3*time.Minute+time.Duration(cfg.runs)*20*time.Millisecond)
	for _, c := range w.workers {
		c.stop(t)
	}
	recovered := 0
	for {
		n, err := engine.Recover(ctx, 0)
		if err != nil {
			t.Errorf("recover: %v", err)
		}
		if n == 0 {
			break
		}
		recovered += n
	}
	drained := time.Now()

	// The figures and the checks.
	var others []string // verbs' other errors, for the log
	for _, c := range w.all {
		for _, l := range c.out.lines(t) {
			switch l.Ev {
			case "verb":
				w.faults[faultVerbs]++
				w.faults["verb_"+l.What+"_"+cmpOr(l.Class, "ok")]++
				if l.Class == "other" && len(others) < 10 {
					others = append(others, l.What+" "+l.Run+": "+l.Err)
				}
			case "disk":
				if l.Err != "" {
					t.Errorf("%s: disk fault: %s", c.plan.Owner, l.Err)
				}
				w.faults["disk_writes_failed"] += int(l.Failed)
			}
		}
	}
	if len(others) > 0 {
		t.Logf("chaos %s: verbs that failed otherwise (the journal unreachable, say), some of them:\n\t%s", kind, strings.Join(others, "\n\t"))
	}
	f := chaosFigures{runs: len(runs), faults: w.faults, elapsed: time.Since(began)}
	f.statuses, f.violations = checkChaos(ctx, t, store, part, runs, w.frozen, 2*cfg.ttl)
	t.Logf("chaos %s: faults for %v, drained %v later (the controller recovered %d runs after the workers stopped)",
		kind, faultsEnded.Sub(began).Round(time.Millisecond), drained.Sub(faultsEnded).Round(time.Millisecond), recovered)
	for i, v := range f.violations {
		if i == 20 {
			t.Errorf("... and %d more violations", len(f.violations)-i)
			break
		}
		t.Errorf("violation (seed %d), %s: %s", cfg.seed, v.kind, v.text)
	}
	return f
}

func cmpOr(s, or string) string {
	if s == "" {
		return or
	}
	return s
}

// chaosDrain waits until every run of runs has ended: it signals the
// runs that wait for the event and requests what a person would of the
// runs of the pause saga that paused (compensate if a step's outcome is
// unknown, else resume), as long as it takes. A run in another status
// that needs a person is left for the checker.
func chaosDrain(ctx context.Context, t *testing.T, store journal.Store, runs []chaosRun, timeout time.Duration) {
	t.Helper()
	sagas := map[string]string{}
	for _, r := range runs {
		sagas[r.id] = r.saga
	}
	signaler := store.(journal.Signaler)
	deadline := time.Now().Add(timeout)
	for {
		open, err := store.List(ctx, journal.Filter{Status: []journal.Status{journal.Pending, journal.Running,
			journal.Compensating, journal.Waiting, journal.Paused}})
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("drain: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		left := 0
		for _, r := range open {
			switch {
			case r.Status == journal.Waiting && r.Wait.Event == chaosEvent:
				_, _ = signaler.Signal(ctx, r.ID, journal.Signal{Event: chaosEvent, Payload: []byte(`"ok"`), Delivery: "drain"})
			case r.Status == journal.Paused && sagas[r.ID] != pauseSaga:
				continue // not ours to answer: the checker reports it
			case r.Status == journal.Paused && r.Request.Verb == "":
				verb := journal.Resume
				if strings.Contains(r.Error, durable.ErrOutcomeUnknown.Error()) {
					verb = journal.Compensate
				}
				err := store.Request(ctx, r.ID, journal.Request{Verb: verb, Note: "chaos: the person, after the faults"})
				if err != nil && !errors.Is(err, journal.ErrPending) && !errors.Is(err, journal.ErrFinal) {
					t.Logf("drain: request %s on %s: %v", verb, r.ID, err)
				}
			}
			left++
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for i, r := range open {
				if i == 20 {
					break
				}
				fmt.Fprintf(&b, "\t%s: %s, lease %q, request %q, wait %+v, error %q\n", r.ID, r.Status, r.LeaseOwner, r.Request.Verb, r.Wait, r.Error)
			}
			t.Fatalf("drain: %d runs not ended within %v:\n%s", left, timeout, b.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

//go:build unix

package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
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

// A fleet draining a backlog, with a worker killed in the middle:
//
//  1. The parent starts four worker processes (Engine.Work, eight runs at
//     once each, a lease of one second) and a producer process, which
//     journals drainRuns runs of a five-step saga with Definition.Start,
//     under IDs of its own, from four goroutines (every tenth Start is
//     sent twice, as a client that retries would, and must find its run;
//     one more, under a taken ID with another state, must be refused).
//  2. When a third of the runs have ended (the parent polls the
//     journal's List), it kills worker-2 with SIGKILL in the middle of
//     its runs, and starts a new worker process, under a new owner name,
//     in its place.
//  3. When every run has ended, it stops the workers with SIGTERM, which
//     ends the context of their Work: each must return and exit cleanly.
//
// What must hold: the journal holds drainRuns runs, each succeeded, every
// step succeeded once, none unfinished; the outside world (the
// participant) took each step's effect once per run, under the key of its
// first execution, nothing compensated; the runs worker-2 held when it
// died were taken over by other workers; and each run had one driver at
// a time (drain_check_test.go).
//
// Every step is idempotent, so a run worker-2 left in the middle of a
// step is carried forward by its taker, which runs the step again under
// the same key, and the participant deduplicates it: every run must
// succeed. (A step that is not idempotent would be compensated instead,
// a case the crash tests cover run by run; here it would blur the count.)
//
// Runs change hands without a kill, too. Four processes writing to one
// SQLite file wait for its lock, and SQLite's busy handler, which sleeps
// longer and longer between tries (up to 100ms), lets a process lose the
// race for seconds while the others commit hundreds of times: on this
// two-core machine, a worker's journal call can wait 1s without the race
// detector, 3s with it. A worker whose renewal waits past 0.9 of its lease
// gives the run up (the heartbeat ends its context) and another claims
// it once the lease has ended. The test does not fail on that: it checks
// that every handover, after a kill or a stall, is clean (the next driver
// claimed the run once the lease could have ended, the store took no
// write of the old driver after that, the entries go from one driver to
// the next, never back), that the only executions of a step at once are
// the window a lost lease leaves open (durable's Guarantees: one of them
// is the old driver's), and it logs them.

const (
	drainWorkers  = 4
	drainConc     = 8
	drainTTL      = time.Second
	drainPoll     = 50 * time.Millisecond // Engine.Work's interval
	drainStepWork = 2 * time.Millisecond  // a step's work between its begin and its effect
	drainProducer = "producer"
	drainVictim   = "worker-2"
	drainReborn   = "worker-2-restarted"
	drainTimeout  = 120 * time.Second // for the whole backlog to drain
)

// Roles of the drain processes.
const (
	producerRole    = "producer"
	drainWorkerRole = "worker"
)

// drainSteps are the saga's steps; all are idempotent.
var drainSteps = []string{"reserve", "charge", "book", "invoice", "notify"}

// drainPlan is what the parent asks of a drain process.
type drainPlan struct {
	Role  string
	Dir   string     // holds the participant and the event logs (and the SQLite journal)
	Store fleetStore // the journal
	Owner string     // the engine's lease owner; names the event log
	TTL   time.Duration
	Conc  int
	Poll  time.Duration
	Work  time.Duration // how long a step works
	Runs  int           // producerRole: how many runs to start
}

func (p drainPlan) participant() string { return filepath.Join(p.Dir, "participant.db") }
func (p drainPlan) events() string      { return eventsPath(p.Dir, p.Owner) }

func drainID(i int) string { return fmt.Sprintf("drain-%04d", i) }

// dorder is the drain saga's state: N tells runs apart (Start is
// idempotent per ID and initial state); Refs is what each step made, its
// idempotency key.
type dorder struct {
	N    int
	Refs map[string]string
}

// drainSaga builds the drain saga for the process of plan p. Each action
// works for p.Work, then takes its effect under its idempotency key and
// records its execution (see act).
func drainSaga(p drainPlan, part *participant) *saga.Saga[dorder] {
	token := tokens(p.Owner)
	b := saga.New[dorder]().Name("drain_order")
	for _, s := range drainSteps {
		act := func(ctx context.Context, o *dorder) error {
			run, key := saga.RunID(ctx), durable.IdempotencyKey(ctx)
			tok, began := token(key), time.Now().UnixNano()
			t := time.NewTimer(p.Work)
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(context.Cause(ctx), part.executed(run, s, tok, began))
			case <-t.C:
			}
			out, err := part.act(ctx, run, s, key, tok, began)
			if err != nil {
				return err
			}
			if out == outRefused {
				return fmt.Errorf("%s: %w", s, errRefused)
			}
			if o.Refs == nil {
				o.Refs = map[string]string{}
			}
			o.Refs[s] = key
			return nil
		}
		comp := func(ctx context.Context, o *dorder) error {
			_, err := part.undo(ctx, saga.RunID(ctx), s)
			delete(o.Refs, s)
			return err
		}
		b.Step(s, act, comp, saga.Idempotent())
	}
	return b.Build()
}

// TestDrainChild is a process of TestFleetDrain. It runs only when the
// parent sets childEnv and selects it; it exits with code noCrash when its
// role is done, and fails (another code) if something went wrong.
func TestDrainChild(t *testing.T) {
	env := os.Getenv(childEnv)
	if env == "" {
		t.Skip("crashtest: runs only as a process of TestFleetDrain")
	}
	var p drainPlan
	if err := json.Unmarshal([]byte(env), &p); err != nil || p.Role == "" {
		t.Fatalf("drain child: plan %q: %v", env, err)
	}
	ctx := context.Background()
	ev, err := openEvents(p.events())
	if err != nil {
		t.Fatalf("drain child: %v", err)
	}
	store, err := openFleetStore(ctx, p.Store)
	if err != nil {
		t.Fatalf("drain child: %v", err)
	}
	rec := recordStore(store, ev)
	switch p.Role {
	case producerRole:
		drainProduce(ctx, t, p, rec, ev)
	case drainWorkerRole:
		part, err := openParticipant(p.participant(), p.Owner)
		if err != nil {
			t.Fatalf("drain child: %v", err)
		}
		drainWork(ctx, t, p, rec, part, ev)
		part.Close()
	default:
		t.Fatalf("drain child: unknown role %q", p.Role)
	}
	if err := store.Close(); err != nil {
		t.Errorf("drain child: %v", err)
	}
	if !t.Failed() {
		os.Exit(noCrash)
	}
}

// drainProduce starts p.Runs runs from a few goroutines, as the replicas
// of a service would. Every tenth Start is sent twice, as a client that
// retries would: it must find the run it started. Then one Start under a
// taken ID with another state must be refused.
func drainProduce(ctx context.Context, t *testing.T, p drainPlan, store journal.Store, ev *eventLog) {
	engine := durable.NewEngine(store, durable.WithOwner(p.Owner))
	def, err := durable.Register(engine, drainSaga(p, nil)) // no step runs here
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	t0 := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= p.Runs {
					return
				}
				id := drainID(i)
				for try := range 1 + btoi(i%10 == 0) {
					got, err := def.Start(saga.WithRunID(ctx, id), &dorder{N: i})
					if err != nil || got != id {
						t.Errorf("producer: Start %s (try %d): got %q, %v", id, try+1, got, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if _, err := def.Start(saga.WithRunID(ctx, drainID(0)), &dorder{N: -1}); !errors.Is(err, journal.ErrExists) {
		t.Errorf("producer: Start %s with another state: %v, want an error matching journal.ErrExists", drainID(0), err)
	}
	ev.add(event{Ev: "produced", T0: t0.UnixNano(), Note: fmt.Sprint(p.Runs)})
}

// drainWork is a worker: Engine.Work until SIGTERM. Its engine logs
// warnings and errors (a run it failed to drive) to stderr, which the
// parent checks.
func drainWork(ctx context.Context, t *testing.T, p drainPlan, store journal.Store, part *participant, ev *eventLog) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	engine := durable.NewEngine(store, durable.WithOwner(p.Owner), durable.WithLeaseTTL(p.TTL),
		durable.WithConcurrency(p.Conc), durable.WithLogger(logger))
	if _, err := durable.Register(engine, drainSaga(p, part)); err != nil {
		t.Fatalf("%s: %v", p.Owner, err)
	}
	wctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	ev.add(event{Ev: "ready"})
	err := engine.Work(wctx, p.Poll)
	e := event{Ev: "stopped", Err: errString(err)}
	if wctx.Err() != nil && err == context.Cause(wctx) {
		e.Class = "ctx_end"
	}
	ev.add(e)
}

// startDrain starts the test binary as the drain process of plan p; it
// is killed when the test ends, if it has not exited by then.
func startDrain(t *testing.T, p drainPlan) *proc {
	t.Helper()
	c := &proc{name: p.Owner}
	c.cmd, c.done = startChild(t, "TestDrainChild", p.Owner, p, &c.out)
	return c
}

var unfinished = []journal.Status{journal.Pending, journal.Running, journal.Compensating}

// stopped are the statuses of runs no worker drives any more.
var stopped = []journal.Status{journal.Succeeded, journal.Compensated, journal.CompensationFailed,
	journal.Failed, journal.Resolved, journal.Abandoned, journal.Paused, journal.Blocked}

// TestFleetDrain drains the backlog on every fleet store there is: SQLite
// always, PostgreSQL when SAGAKIT_POSTGRES_DSN is set.
func TestFleetDrain(t *testing.T) {
	for _, kind := range fleetKinds(t) {
		t.Run(kind, func(t *testing.T) { fleetDrain(t, kind) })
	}
}

func fleetDrain(t *testing.T, kind string) {
	ctx := t.Context()
	dir := t.TempDir()
	n := drainRuns
	base := drainPlan{Dir: dir, Store: newFleetStore(t, kind, dir), TTL: drainTTL, Conc: drainConc,
		Poll: drainPoll, Work: drainStepWork, Runs: n}
	if err := createDrainParticipant(base.participant()); err != nil {
		t.Fatal(err)
	}
	store, err := openFleetStore(ctx, base.Store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	list := func(limit int, statuses ...journal.Status) []journal.Run {
		t.Helper()
		runs, err := store.List(ctx, journal.Filter{Status: statuses, Limit: limit})
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		return runs
	}

	// 1. The workers and the producer.
	began := time.Now()
	workers := map[string]*proc{}
	owners := []string{drainProducer}
	startWorker := func(owner string) {
		p := base
		p.Role, p.Owner = drainWorkerRole, owner
		workers[owner] = startDrain(t, p)
		owners = append(owners, owner)
	}
	for i := 1; i <= drainWorkers; i++ {
		startWorker(fmt.Sprintf("worker-%d", i))
	}
	pp := base
	pp.Role, pp.Owner = producerRole, drainProducer
	producer := startDrain(t, pp)
	produced := false
	// watch polls cond until it holds or timeout passes; meanwhile the
	// workers must stay alive, and the producer must exit cleanly.
	watch := func(timeout time.Duration, cond func() bool) bool {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			if !produced && producer.exited() {
				producer.wait(t, time.Second)
				produced = true
			}
			if cond() {
				return true
			}
			for _, w := range workers {
				w.failIfExited(t)
			}
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// 2. A third of the runs ended: kill worker-2 while it drives runs,
	// and start another worker in its place.
	if !watch(drainTimeout, func() bool { return len(list(n/3, stopped...)) == n/3 }) {
		t.Fatalf("%d of %d runs ended within %v", len(list(0, stopped...)), n, drainTimeout)
	}
	victim := workers[drainVictim]
	if !watch(10*time.Second, func() bool { return len(leasedTo(list(0, unfinished...), drainVictim)) > 0 }) {
		t.Fatalf("%s drives no run", drainVictim)
	}
	killSent := time.Now()
	victim.signal(t, syscall.SIGKILL)
	select {
	case <-victim.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not die within 10s of SIGKILL", drainVictim)
	}
	reaped := time.Now()
	if ws, _ := victim.cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s did not die of SIGKILL (%v); its output:\n%s", drainVictim, victim.cmd.ProcessState, victim.out.String())
	}
	delete(workers, drainVictim)
	inFlight := leasedTo(list(0, unfinished...), drainVictim) // its leases outlive it
	endedAtKill := len(list(0, stopped...))
	startWorker(drainReborn)

	// 3. Every run ended (the producer is done, and no run is left
	// unfinished): stop the workers.
	if !watch(drainTimeout, func() bool { return produced && len(list(1, unfinished...)) == 0 }) {
		stuck := list(0, unfinished...)
		var b strings.Builder
		for i, r := range stuck {
			if i == 20 {
				fmt.Fprintf(&b, "\t... and %d more\n", len(stuck)-i)
				break
			}
			fmt.Fprintf(&b, "\t%s: %s, lease %q until %s\n", r.ID, r.Status, r.LeaseOwner, r.LeaseExpiry.Format(time.StampMilli))
		}
		t.Fatalf("within %v, %d of %d runs ended (producer done: %v); %d unfinished:\n%s",
			drainTimeout, len(list(0, stopped...)), n, produced, len(stuck), b.String())
	}
	drained := time.Now()
	for _, w := range workers {
		w.signal(t, syscall.SIGTERM)
	}
	for _, owner := range slices.Sorted(maps.Keys(workers)) {
		workers[owner].wait(t, 30*time.Second)
	}
	stoppedAt := time.Now()

	// 4. The checks.
	evs := map[string][]event{}
	for _, owner := range owners {
		evs[owner] = readEvents(t, eventsPath(dir, owner))
	}
	h := newDrainHistory(evs, base.TTL)
	runs := h.checkJournal(ctx, t, store, n, inFlight)
	busy := h.checkProcesses(t, workers, victim, drained)
	part, err := openParticipant(base.participant(), "parent")
	if err != nil {
		t.Fatal(err)
	}
	defer part.Close()
	w := h.checkWorld(t, part, n, inFlight)

	// 5. The figures.
	first, last := runs[0].Created, runs[0].Ended
	lat := make([]time.Duration, len(runs))
	for i, r := range runs {
		first, last = earliestTime(first, r.Created), latestTime(last, r.Ended)
		lat[i] = r.Ended.Sub(r.Created)
	}
	slices.Sort(lat)
	span := last.Sub(first)
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	t.Logf("journal: %s; %d workers x %d runs at once, lease %v, %d steps of %v work per run",
		base.Store, drainWorkers, drainConc, base.TTL, len(drainSteps), drainStepWork)
	t.Logf("%d runs drained in %v (first Start to last end): %.0f runs/s; from Start to end p50 %v, p99 %v, max %v",
		n, ms(span), float64(n)/span.Seconds(), ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1]))
	t.Logf("%s killed %v after the processes started, when %d runs had ended; it had %d runs in flight (%s), %d of them past the running step's effect (their takers' re-run was deduplicated by its key)",
		drainVictim, ms(killSent.Sub(began)), endedAtKill, len(inFlight), strings.Join(slices.Sorted(maps.Keys(inFlight)), " "), w.deadDups)
	h.logTakeovers(t, inFlight, reaped)
	t.Logf("world: %d effects, one per step of each run; %d executions recorded (%d steps run again after a handover; steps cut off by %s's death are not recorded), %d of them taking an effect deduplicated by its key; %d executions at once",
		w.effects, w.executions, w.executions-w.effects, drainVictim, w.dups, w.zombies)
	if len(busy) > 0 {
		t.Logf("runs a worker claimed while it still drove them, left leased and idle until their lease expired (durable.ErrBusy, see TestReclaimedWhileBusy): %s", strings.Join(busy, ", "))
	}
	h.logCalls(t)
	t.Logf("wall time: %v to drain, %v in all (processes started to stopped)", ms(drained.Sub(began)), ms(stoppedAt.Sub(began)))
}

// leasedTo returns the runs of runs whose lease owner is owner, by ID.
func leasedTo(runs []journal.Run, owner string) map[string]journal.Run {
	m := map[string]journal.Run{}
	for _, r := range runs {
		if r.LeaseOwner == owner {
			m[r.ID] = r
		}
	}
	return m
}

func earliestTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latestTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

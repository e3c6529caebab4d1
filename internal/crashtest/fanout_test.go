//go:build unix

package crashtest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/state"
)

// The fan-out scenarios: a graph saga, debit → {flight, hotel, car} →
// confirm, whose three bookings run at once, each on a fork of the state,
// their starts and ends journaled through the run's group writer. The
// child (fanoutChild, chosen by plan.Saga) runs trips as TestChild runs
// orders, and dies at the planned point; the parent recovers and checks
// every trip (checkTrip) and the trace of every execution (checkTrace).
//
// In the child, the siblings are paced so that they overlap and a kill
// finds a known set of them in flight (pacer): each waits until all three
// have started; flight and hotel then wait until car's end is journaled,
// take their effect, and wait for each other to have taken it before they
// return; compensations of siblings wait until all of them have started,
// and for each other to have undone their effects. A sibling arrives at
// such a meeting only after its kill point, so that a sibling killed in
// its middle holds the others in theirs. The parent's saga is not paced.

// fanoutSaga is plan.Saga for the fan-out scenarios.
const fanoutSaga = "fanout"

// trip is the fan-out saga's state. Keys is written by every step, the
// siblings at once, so it is a Cell: each step adds its idempotency key.
type trip struct {
	FailAt string                        // the step whose action fails, "" for none
	Keys   state.Cell[map[string]string] // step → the key of the execution that took effect
}

// tripSteps are the fan-out saga's steps, in declaration order. car calls
// a service without idempotency keys, as book_courier does.
var tripSteps = []struct {
	name       string
	idempotent bool
	after      []string
}{
	{"debit", true, nil},
	{"flight", true, []string{"debit"}},
	{"hotel", true, []string{"debit"}},
	{"car", false, []string{"debit"}},
	{"confirm", true, []string{"flight", "hotel", "car"}},
}

// siblings are the steps that run at once.
var siblings = []string{"flight", "hotel", "car"}

// trips are the runs the fan-out child makes, in the order it starts
// them: the first two one after the other, then the others at once. A
// failing hotel drives compensation of its siblings; a failing confirm,
// of all three at once.
var trips = []struct {
	id     string
	failAt string
}{
	{"trip-1", ""},
	{"trip-2", "hotel"},
	{"trip-3", ""},
	{"trip-4", "hotel"},
	{"trip-5", ""},
	{"trip-6", "confirm"},
}

const (
	// tripPoints bounds the point atRandom picks in the fan-out child,
	// which passes at least 121 points if it does not die (35 effects,
	// and each of at least 43 writes twice), 145 to 149 as a rule.
	tripPoints = 120
	// paceTimeout is how long a paced sibling waits for the others
	// before the child gives up, with exit code paceFailed: they did not
	// run at once.
	paceTimeout = 20 * time.Second
	paceFailed  = 4
)

func (p plan) trace() string { return filepath.Join(p.Dir, "trace") }

func tripPlanned(run string) string {
	for _, o := range trips {
		if o.id == run {
			return o.failAt
		}
	}
	panic("crashtest: unknown trip " + run)
}

func tripIdempotent(step string) bool {
	for _, s := range tripSteps {
		if s.name == step {
			return s.idempotent
		}
	}
	panic("crashtest: unknown trip step " + step)
}

// tripAfter returns the steps step runs after.
func tripAfter(step string) []string {
	for _, s := range tripSteps {
		if s.name == step {
			return s.after
		}
	}
	panic("crashtest: unknown trip step " + step)
}

// tripDependents returns the steps that run after step.
func tripDependents(step string) []string {
	var out []string
	for _, s := range tripSteps {
		if slices.Contains(s.after, step) {
			out = append(out, s.name)
		}
	}
	return out
}

// undoneAtOnce is how many siblings a trip meant to fail at failAt
// compensates at once in the child: those that took effect.
func undoneAtOnce(failAt string) int {
	if slices.Contains(siblings, failAt) {
		return len(siblings) - 1
	}
	return len(siblings)
}

// newTripSaga builds the fan-out saga: actions and compensations record
// their effects in l and every execution's begin and end in tr; pc (nil
// in the parent) paces the siblings and holds the killer.
func newTripSaga(l *ledger, tr *trace, pc *pacer) *saga.Saga[trip] {
	b := saga.New[trip]().Name("crash_trip")
	for _, s := range tripSteps {
		sibling := slices.Contains(siblings, s.name)
		act := func(ctx context.Context, o *trip) (err error) {
			run, key := saga.RunID(ctx), durable.IdempotencyKey(ctx)
			if err := tr.add("begin", "act", run, s.name); err != nil {
				return err
			}
			defer func() {
				if terr := tr.add("end", "act", run, s.name, outcomeOf(err)); err == nil {
					err = terr
				}
			}()
			if sibling {
				pc.meet(run, "started", len(siblings))
				if s.name != "car" {
					pc.journaledEnd(run, "car")
				}
			}
			if o.FailAt == s.name {
				if sibling {
					pc.meet(run, "effects", len(siblings)-1)
				}
				return fmt.Errorf("%s: %w", s.name, errPlanned)
			}
			if err := l.act(run, s.name, key, s.idempotent); err != nil {
				return err
			}
			pc.k().hit(inStep, run, s.name)
			if sibling && s.name != "car" {
				pc.meet(run, "effects", len(siblings)-1)
			}
			o.Keys.Update(func(m map[string]string) map[string]string {
				m = maps.Clone(m)
				if m == nil {
					m = map[string]string{}
				}
				m[s.name] = key
				return m
			})
			return nil
		}
		// Compensations run on the run's state, siblings' at once: they
		// only read it.
		comp := func(ctx context.Context, o *trip) (err error) {
			run := saga.RunID(ctx)
			if err := tr.add("begin", "comp", run, s.name); err != nil {
				return err
			}
			defer func() {
				if terr := tr.add("end", "comp", run, s.name, outcomeOf(err)); err == nil {
					err = terr
				}
			}()
			if sibling {
				pc.meet(run, "undoing", undoneAtOnce(o.FailAt))
			}
			if err := l.undo(run, s.name); err != nil {
				return err
			}
			pc.k().hit(inCompensation, run, s.name)
			if sibling {
				pc.meet(run, "undone", undoneAtOnce(o.FailAt))
			}
			return nil
		}
		opts := []saga.StepOption{}
		if s.idempotent {
			opts = append(opts, saga.Idempotent())
		}
		if len(s.after) > 0 {
			opts = append(opts, saga.After(s.after...))
		}
		b.Step(s.name, act, comp, opts...)
	}
	return b.Build()
}

func outcomeOf(err error) string {
	if err != nil {
		return "err"
	}
	return "ok"
}

// pacer makes the child's siblings overlap (see the top of this file). A
// nil pacer, the parent's, does nothing.
type pacer struct {
	killer *killer
	mu     sync.Mutex
	meets  map[string]*meeting       // by run and name
	ended  map[runStep]chan struct{} // closed when the step's end is journaled
}

type meeting struct {
	n   int
	all chan struct{}
}

func newPacer(k *killer) *pacer {
	return &pacer{killer: k, meets: map[string]*meeting{}, ended: map[runStep]chan struct{}{}}
}

func (pc *pacer) k() *killer {
	if pc == nil {
		return nil
	}
	return pc.killer
}

// meet arrives at run's meeting name and returns once n have arrived.
func (pc *pacer) meet(run, name string, n int) {
	if pc == nil {
		return
	}
	pc.mu.Lock()
	m := pc.meets[run+" "+name]
	if m == nil {
		m = &meeting{all: make(chan struct{})}
		pc.meets[run+" "+name] = m
	}
	m.n++
	if m.n == n {
		close(m.all)
	}
	pc.mu.Unlock()
	pc.wait(m.all, fmt.Sprintf("%s: %d at %q", run, n, name))
}

func (pc *pacer) endedChan(rs runStep) chan struct{} {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	c := pc.ended[rs]
	if c == nil {
		c = make(chan struct{})
		pc.ended[rs] = c
	}
	return c
}

// journaledEnd returns once step's end is journaled in run.
func (pc *pacer) journaledEnd(run, step string) {
	if pc == nil {
		return
	}
	pc.wait(pc.endedChan(runStep{run, step}), fmt.Sprintf("%s: the end of %s journaled", run, step))
}

// journaled notes what a journal write that went through held.
func (pc *pacer) journaled(run string, entries []journal.Entry) {
	for _, e := range entries {
		switch e.Kind {
		case journal.StepSucceeded, journal.StepFailed, journal.StepCancelled:
			c := pc.endedChan(runStep{run, e.Step})
			pc.mu.Lock()
			select {
			case <-c:
			default:
				close(c)
			}
			pc.mu.Unlock()
		}
	}
}

// wait returns once c is closed, or ends the child with exit code
// paceFailed after paceTimeout.
func (pc *pacer) wait(c <-chan struct{}, what string) {
	select {
	case <-c:
	case <-time.After(paceTimeout):
		fmt.Fprintf(os.Stderr, "child: waited %v for %s: the siblings do not run at once\n", paceTimeout, what)
		os.Exit(paceFailed)
	}
}

// pacedStore tells the pacer of every write that went through.
type pacedStore struct {
	journal.Store
	pc *pacer
}

func (s pacedStore) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	err := s.Store.Append(ctx, runID, owner, u, entries...)
	if err == nil {
		s.pc.journaled(runID, entries)
	}
	return err
}

// trace records every execution of an action or compensation, as it
// begins and ends, one line per write(2) on a file shared by the child
// and the parent, one after the other:
//
//	<pid> begin act|comp <run> <step>
//	<pid> end   act|comp <run> <step> ok|err
//
// A process's lines are in the order of its executions' events (under
// mu); write(2) needs no sync to survive the writer's SIGKILL.
type trace struct {
	mu  sync.Mutex
	f   *os.File
	pid string
}

func openTrace(path string) (*trace, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &trace{f: f, pid: strconv.Itoa(os.Getpid())}, nil
}

func (tr *trace) add(fields ...string) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	_, err := tr.f.WriteString(tr.pid + " " + strings.Join(fields, " ") + "\n")
	return err
}

func (tr *trace) Close() error { return tr.f.Close() }

// fanoutChild is TestChild for plan.Saga fanoutSaga: it runs the trips and
// dies at the plan's point, or exits with code noCrash.
func fanoutChild(ctx context.Context, t *testing.T, p plan, store journal.Store, l *ledger) {
	k := newKiller(p.Kill)
	if p.Kill.Where == atRandom {
		k.at = 1 + rand.New(rand.NewPCG(p.Kill.Seed, 1)).IntN(tripPoints)
	}
	pc := newPacer(k)
	tr, err := openTrace(p.trace())
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	engine := durable.NewEngine(pacedStore{crashingStore{store, k}, pc}, durable.WithOwner(childOwner))
	def, err := durable.Register(engine, newTripSaga(l, tr, pc), durable.OnCrash(p.Policy))
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	run := func(i int) error {
		o := trip{FailAt: trips[i].failAt}
		_, err := def.Run(saga.WithRunID(ctx, trips[i].id), &o)
		if err != nil && o.FailAt == "" {
			return err
		}
		return nil
	}
	for i := range sequential {
		if err := run(i); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	var g errgroup.Group
	for i := sequential; i < len(trips); i++ {
		g.Go(func() error { return run(i) })
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	k.mu.Lock()
	fmt.Fprintf(os.Stderr, "child: no crash: passed %d points; writes by run: %v\n", k.passed, k.writes)
	k.mu.Unlock()
	os.Exit(noCrash)
}

// The fan-out child's writes to trip-4, whose hotel fails while flight
// and car succeed. A step's success goes out with the next write (the
// start of a step it released, most often), or on its own within a
// millisecond, and the siblings' starts and ends go out together or one
// by one, as they come; so the count varies, 12 as a rule:
//
//	1     create: run started, debit started
//	2-3   debit succeeded; flight, hotel and car started
//	4     car succeeded (flight and hotel wait for it)
//	5     flight succeeded, hotel failed (one write or two)
//	6-7   status compensating: flight's and car's compensations started
//	8-9   flight's and car's compensations ended
//	10    debit's compensation started
//	11    debit's compensation ended
//	12    run ended, compensated
//
// The kill points by index go up to tripMaxWrites: a point past the run's
// last write is not reached, and the child ends without a crash. There
// are at least tripMinWrites: up to there, the child must die.
const (
	writesRun     = "trip-4"
	tripMinWrites = 9
	tripMaxWrites = 14
)

// fanoutAtOnce is how many fan-out crash tests run at once on each fleet
// store. A test is mostly waiting, for the child's fsyncs and the
// database: more than -parallel at once keeps the package's run time
// modest.
const fanoutAtOnce = 3

// fanCase is a crash of the fan-out child and what to check of it
// beyond checkTrip and checkTrace.
type fanCase struct {
	name    string
	policy  durable.CrashPolicy
	kill    point
	mustDie bool // the child must reach kill
	check   func(t *testing.T, o *fanOutcome)
}

// runFanout runs the cases cases returns for each fleet store, in
// subtests named by case and policy, fanoutAtOnce at a time per store.
func runFanout(t *testing.T, cases func(kind string) []fanCase) {
	forEachStore(t, func(t *testing.T, kind string) {
		var g errgroup.Group
		g.SetLimit(fanoutAtOnce)
		for _, c := range cases(kind) {
			g.Go(func() error {
				t.Run(fmt.Sprintf("%s/%s", c.name, policyName(c.policy)), func(t *testing.T) {
					o := crashFanout(t, kind, c.policy, c.kill, c.mustDie)
					if c.check != nil {
						c.check(t, o)
					}
				})
				return nil
			})
		}
		g.Wait()
	})
}

var policies = []durable.CrashPolicy{durable.ResumeAfterCrash, durable.CompensateAfterCrash}

// TestFanoutCrashAtWrite kills the fan-out child before, or after, each
// journal write of trip-4. With PostgreSQL, each point runs once per
// store, under one policy on SQLite and the other on PostgreSQL; on
// SQLite alone, under both.
func TestFanoutCrashAtWrite(t *testing.T) {
	split := os.Getenv(postgresDSNEnv) != ""
	runFanout(t, func(kind string) []fanCase {
		var cases []fanCase
		for k, w := range []where{beforeWrite, afterWrite} {
			for n := 1; n <= tripMaxWrites; n++ {
				ps := policies
				if split {
					i := n + k
					if kind == postgresStore {
						i++
					}
					ps = policies[i%2 : i%2+1]
				}
				for _, policy := range ps {
					cases = append(cases, fanCase{
						name: fmt.Sprintf("%s_%d", w, n), policy: policy,
						kill: point{Where: w, Run: writesRun, N: n}, mustDie: n <= tripMinWrites,
						check: func(t *testing.T, o *fanOutcome) {
							if !o.died {
								t.Logf("%s %d not reached: the child ended without a crash", w, n)
							}
						},
					})
				}
			}
		}
		return cases
	})
}

// fanScenario is a crash of the fan-out child at a chosen point, where it
// leaves the run it hits, and what that run must end as. Every trip is
// checked against its journal at the crash (see expectTrip).
type fanScenario struct {
	name string
	kill point
	// atCrash is kill.Run's status at the crash; open and compOpen are
	// the steps and compensations it shows started and not ended, sorted.
	atCrash        journal.Status
	open, compOpen []string
	want           [2]journal.Status // by durable.CrashPolicy
	// again names the steps recovery must call a second time, with the
	// key of their first call, under ResumeAfterCrash.
	again []string
}

func TestFanoutCrashInStep(t *testing.T) {
	eachFanout(t, []fanScenario{
		// car is not idempotent: killed in its middle while flight and
		// hotel wait for it, it decides for all three.
		{name: "sibling_not_idempotent", kill: point{Where: inStep, Run: "trip-3", Step: "car"},
			atCrash: running, open: []string{"car", "flight", "hotel"},
			want: [2]journal.Status{compensated, compensated}},
		// flight and hotel are idempotent: killed in flight's middle, after
		// car ended, while hotel runs, both run again under their keys.
		{name: "siblings_idempotent", kill: point{Where: inStep, Run: "trip-3", Step: "flight"},
			atCrash: running, open: []string{"flight", "hotel"},
			want: [2]journal.Status{succeeded, compensated}, again: []string{"flight"}},
		// The same where hotel is meant to fail: run again, it fails, and
		// the trip is compensated.
		{name: "siblings_then_failure", kill: point{Where: inStep, Run: "trip-4", Step: "flight"},
			atCrash: running, open: []string{"flight", "hotel"},
			want: [2]journal.Status{compensated, compensated}, again: []string{"flight"}},
	})
}

func TestFanoutCrashInCompensation(t *testing.T) {
	eachFanout(t, []fanScenario{
		// hotel failed: flight's and car's compensations run at once, and
		// the child dies in flight's while car's is in progress.
		{name: "two_at_once", kill: point{Where: inCompensation, Run: "trip-4", Step: "flight"},
			atCrash: compensating, compOpen: []string{"car", "flight"},
			want: [2]journal.Status{compensated, compensated}},
		// confirm failed: the three siblings' compensations run at once.
		{name: "three_at_once", kill: point{Where: inCompensation, Run: "trip-6", Step: "hotel"},
			atCrash: compensating, compOpen: []string{"car", "flight", "hotel"},
			want: [2]journal.Status{compensated, compensated}},
		// debit's compensation, once its dependents' have ended.
		{name: "after_siblings", kill: point{Where: inCompensation, Run: "trip-4", Step: "debit"},
			atCrash: compensating, compOpen: []string{"debit"},
			want: [2]journal.Status{compensated, compensated}},
	})
}

// TestFanoutCrashAtRandom kills the fan-out child at a point chosen by a
// seed among all the points it passes, whichever trip they belong to.
func TestFanoutCrashAtRandom(t *testing.T) {
	runFanout(t, func(string) []fanCase {
		var cases []fanCase
		for seed := range uint64(2) {
			for _, policy := range policies {
				cases = append(cases, fanCase{name: fmt.Sprintf("seed_%d", seed), policy: policy,
					kill: point{Where: atRandom, Seed: seed}, mustDie: true})
			}
		}
		return cases
	})
}

// eachFanout runs every scenario under both crash policies, on every
// fleet store, and checks the run it hits as the scenario says.
func eachFanout(t *testing.T, scenarios []fanScenario) {
	runFanout(t, func(string) []fanCase {
		var cases []fanCase
		for _, sc := range scenarios {
			for _, policy := range policies {
				cases = append(cases, fanCase{name: sc.name, policy: policy, kill: sc.kill, mustDie: true,
					check: func(t *testing.T, o *fanOutcome) { checkScenario(t, sc, policy, o) }})
			}
		}
		return cases
	})
}

func checkScenario(t *testing.T, sc fanScenario, policy durable.CrashPolicy, o *fanOutcome) {
	t.Helper()
	pre, post := o.pre[sc.kill.Run], o.post[sc.kill.Run]
	if pre == nil || post == nil {
		t.Fatalf("%s: not journaled", sc.kill.Run)
	}
	if pre.Run.Status != sc.atCrash || !slices.Equal(openSteps(pre.Entries), sc.open) ||
		!slices.Equal(openComps(pre.Entries), sc.compOpen) {
		t.Fatalf("%s at the crash: %s, steps %v and compensations %v open; want %s, %v and %v\n%s",
			sc.kill.Run, pre.Run.Status, openSteps(pre.Entries), openComps(pre.Entries),
			sc.atCrash, sc.open, sc.compOpen, dump(pre))
	}
	if post.Run.Status != sc.want[policy] {
		t.Fatalf("%s: %s after recovery, want %s", sc.kill.Run, post.Run.Status, sc.want[policy])
	}
	if policy != durable.ResumeAfterCrash {
		return
	}
	for _, step := range sc.again {
		e := o.ledger.of(sc.kill.Run, step)
		if len(e.calls) != 2 || e.calls[0] != e.calls[1] || e.dos != 1 {
			t.Errorf("%s: %s called with keys %v, took effect %d times; want called again under its key, once",
				sc.kill.Run, step, e.calls, e.dos)
		}
	}
}

// fanOutcome is what a fan-out crash test leaves.
type fanOutcome struct {
	died      bool // the child died at its point (else it reached none)
	pre, post map[string]*durable.View
	ledger    *ledger
}

// crashFanout runs a fan-out child that dies at kill, on a new journal of
// kind; if the child reaches no such point, it must end without a crash,
// unless mustDie. Then it recovers the trips in a new engine and checks
// every trip (checkTrip) and the trace (checkTrace).
func crashFanout(t *testing.T, kind string, policy durable.CrashPolicy, kill point, mustDie bool) *fanOutcome {
	t.Helper()
	dir := t.TempDir()
	p := plan{Dir: dir, Store: newFleetStore(t, kind, dir), Policy: policy, Kill: kill, Saga: fanoutSaga}
	ws, out, err := execChild(t, p)
	died := ws.Signaled() && ws.Signal() == syscall.SIGKILL
	if !died && (mustDie || !ws.Exited() || ws.ExitStatus() != noCrash) {
		t.Fatalf("the child did not die of SIGKILL (%v; exit code %d means it reached no crash point, %d that its siblings did not run at once); its output:\n%s",
			err, noCrash, paceFailed, out)
	}

	ctx := t.Context()
	store, err := openFleetStoreWithClock(ctx, p.Store, anHourAhead)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	l, err := openLedger(p.ledger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	tr, err := openTrace(p.trace())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })

	pre := tripViews(ctx, t, store)
	engine := durable.NewEngine(store, durable.WithOwner("crash-recovery"))
	if _, err := durable.Register(engine, newTripSaga(l, tr, nil), durable.OnCrash(policy)); err != nil {
		t.Fatal(err)
	}
	for range len(trips) + 1 {
		n, err := engine.Recover(ctx, len(trips))
		if err != nil {
			t.Fatalf("recover: %v", err)
		}
		if n == 0 {
			break
		}
	}
	post := tripViews(ctx, t, store)
	for _, o := range trips {
		checkTrip(t, o.id, policy, pre[o.id], post[o.id], l)
	}
	checkTrace(t, readTrace(t, p.trace()), tr.pid, pre, post)
	checkLedgerOrder(t, p.ledger())
	if v := pre[kill.Run]; died && v != nil {
		t.Logf("%s at the crash: %s, steps %v and compensations %v open", kill.Run, v.Run.Status, openSteps(v.Entries), openComps(v.Entries))
	}
	return &fanOutcome{died: died, pre: pre, post: post, ledger: l}
}

package durable_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/state"
)

// The idea of package parallel's random graph test (compensate_test.go),
// run durably: random graphs with failing steps, run by Definition.Run on
// each store, checked against what their actions and compensations did
// and against the journal.

var errDAG = errors.New("boom")

// dagState is a random graph's state: each step that succeeds counts
// itself in a Cell, so that the newest snapshot tells how many steps it
// holds.
type dagState struct {
	Ran state.Cell[int]
}

// dagStep is one step of a random graph.
type dagStep struct {
	deps []int
	fail bool
	// slow: the step waits for delay or for its context to end; a slow
	// step that does not fail returns the context's error when it ends
	// first (it is cancelled).
	delay    time.Duration
	slow     bool
	ifFailed bool // CompensateIfFailed
}

// dagTrace records, for every step, how often its action and its
// compensation were called and when each began and ended, and when the
// journal write holding each of its entries returned: positions in one
// sequence shared by all, no clock.
type dagTrace struct {
	mu   sync.Mutex
	seq  int
	act  []dagCalls
	cmp  []dagCalls
	jrnl map[string]int // "kind step" → the sequence number of the write that journaled it
	dups []string       // entries journaled twice
}

type dagCalls struct {
	n          int // how many calls
	start, end int // of the last call; 0: never
	ok         bool
	cancelled  bool // returned its context's error
}

func newDAGTrace(n int) *dagTrace {
	return &dagTrace{act: make([]dagCalls, n), cmp: make([]dagCalls, n), jrnl: map[string]int{}}
}

func (t *dagTrace) begin(c []dagCalls, i int) {
	t.mu.Lock()
	t.seq++
	c[i].n++
	c[i].start = t.seq
	t.mu.Unlock()
}

func (t *dagTrace) end(ctx context.Context, c []dagCalls, i int, err error) {
	t.mu.Lock()
	t.seq++
	c[i].end = t.seq
	c[i].ok = err == nil
	c[i].cancelled = err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
	t.mu.Unlock()
}

// journaled notes that entries are in the journal now.
func (t *dagTrace) journaled(entries []journal.Entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	for _, e := range entries {
		if e.Step == "" {
			continue
		}
		k := string(e.Kind) + " " + e.Step
		if _, ok := t.jrnl[k]; ok {
			t.dups = append(t.dups, k)
			continue
		}
		t.jrnl[k] = t.seq
	}
}

// dagStore reports to a trace each write that succeeded.
type dagStore struct {
	journal.Store
	tr *dagTrace
}

func (s dagStore) Create(ctx context.Context, run journal.Run, entries ...journal.Entry) error {
	err := s.Store.Create(ctx, run, entries...)
	if err == nil {
		s.tr.journaled(entries)
	}
	return err
}

func (s dagStore) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	err := s.Store.Append(ctx, runID, owner, u, entries...)
	if err == nil {
		s.tr.journaled(entries)
	}
	return err
}

// randomDAGSteps draws a graph of n steps: each runs after up to three
// random earlier ones; one to three, past the first fifth, fail at once or after a short wait
// (cut short when their context ends); a few others are slow, and are
// cancelled when a failure ends their context first; some failing or
// slow steps are compensated even if they fail.
func randomDAGSteps(r *rand.Rand, n int) []dagStep {
	steps := make([]dagStep, n)
	for range 1 + r.IntN(3) {
		steps[n/5+r.IntN(n-n/5)].fail = true // not among the first: let the graph spread first
	}
	for i := range steps {
		s := &steps[i]
		if i > 0 {
			for range r.IntN(4) {
				if j := r.IntN(i); !slices.Contains(s.deps, j) {
					s.deps = append(s.deps, j)
				}
			}
		}
		switch {
		case s.fail:
			if r.IntN(2) == 0 {
				s.delay = time.Duration(1+r.IntN(3)) * time.Millisecond
			}
			s.ifFailed = r.IntN(3) == 0
		case r.IntN(8) == 0:
			s.slow, s.delay = true, time.Duration(1+r.IntN(5))*time.Millisecond
			s.ifFailed = r.IntN(4) == 0
		}
	}
	return steps
}

func dagName(i int) string { return "s" + strconv.Itoa(i) }

// dagSaga builds the saga of steps, its actions and compensations
// reporting to tr.
func dagSaga(steps []dagStep, tr *dagTrace) *saga.Saga[dagState] {
	b := saga.New[dagState]().Name("dag")
	for i, s := range steps {
		after := make([]string, len(s.deps))
		for k, j := range s.deps {
			after[k] = dagName(j)
		}
		opts := []saga.StepOption{saga.After(after...)}
		if s.ifFailed {
			opts = append(opts, saga.CompensateIfFailed())
		}
		act := func(ctx context.Context, st *dagState) error {
			tr.begin(tr.act, i)
			var err error
			if s.delay > 0 {
				select {
				case <-time.After(s.delay):
				case <-ctx.Done():
					if s.slow {
						err = ctx.Err()
					}
				}
			}
			if s.fail {
				err = fmt.Errorf("%s: %w", dagName(i), errDAG) // its own failure, never another's cause
			}
			if err == nil {
				st.Ran.Update(func(n int) int { return n + 1 })
			}
			tr.end(ctx, tr.act, i, err)
			return err
		}
		undo := func(ctx context.Context, _ *dagState) error {
			tr.begin(tr.cmp, i)
			runtime.Gosched() // a chance for compensations that must not overlap to overlap
			tr.end(ctx, tr.cmp, i, nil)
			return nil
		}
		b.Step(dagName(i), act, undo, opts...)
	}
	return b.Build()
}

// TestGraphRandomDAGsMemory runs random graphs on the in-memory store,
// with and without a limit.
func TestGraphRandomDAGsMemory(t *testing.T) {
	for seed := range uint64(10) {
		for _, limit := range []int{0, 1, 8} {
			t.Run(fmt.Sprintf("seed=%d/limit=%d", seed, limit), func(t *testing.T) {
				t.Parallel()
				steps := randomDAGSteps(rand.New(rand.NewPCG(seed, 0xda6)), 20+int(seed)*20)
				for rep := range 2 {
					checkDAGRun(t, journal.NewMemory(), steps, limit, fmt.Sprintf("dag-%d-%d-%d", seed, limit, rep))
				}
			})
		}
	}
}

// TestGraphRandomDAGsSQLite runs fewer graphs on SQLite, a file of its
// own per graph.
func TestGraphRandomDAGsSQLite(t *testing.T) {
	for seed := range uint64(2) {
		for _, limit := range []int{0, 4} {
			t.Run(fmt.Sprintf("seed=%d/limit=%d", seed, limit), func(t *testing.T) {
				t.Parallel()
				store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "journal.db"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = store.Close() })
				steps := randomDAGSteps(rand.New(rand.NewPCG(seed+100, 0xda6)), 200)
				checkDAGRun(t, store, steps, limit, fmt.Sprintf("dag-%d-%d", seed, limit))
			})
		}
	}
}

// TestGraphRandomDAGsPostgres runs them on PostgreSQL, in a schema of the
// test's own, when SAGAKIT_POSTGRES_DSN names a server.
func TestGraphRandomDAGsPostgres(t *testing.T) {
	store := dagPostgres(t)
	for seed := range uint64(2) {
		for _, limit := range []int{0, 4} {
			t.Run(fmt.Sprintf("seed=%d/limit=%d", seed, limit), func(t *testing.T) {
				t.Parallel()
				steps := randomDAGSteps(rand.New(rand.NewPCG(seed+200, 0xda6)), 200)
				checkDAGRun(t, store, steps, limit, fmt.Sprintf("dag-%d-%d", seed, limit))
			})
		}
	}
}

// dagPostgres opens a PostgreSQL store on a fresh schema, dropped when
// the test ends. It skips the test without SAGAKIT_POSTGRES_DSN (fails
// it, with SAGAKIT_REQUIRE_POSTGRES=1).
func dagPostgres(t *testing.T) *postgres.Store {
	t.Helper()
	dsn := os.Getenv("SAGAKIT_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("SAGAKIT_REQUIRE_POSTGRES") == "1" {
			t.Fatal("PostgreSQL required (SAGAKIT_REQUIRE_POSTGRES=1) but SAGAKIT_POSTGRES_DSN is not set")
		}
		t.Skip("no PostgreSQL: set SAGAKIT_POSTGRES_DSN (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run random graphs on it")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("durable_dag_%08x", rand.Uint32())
	store, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatalf("PostgreSQL at SAGAKIT_POSTGRES_DSN: %v", err)
	}
	t.Cleanup(func() { // once the parallel subtests are done
		_ = store.Close()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return store
}

// checkDAGRun runs the graph of steps once, journaled to store, and
// checks what its steps did, its report and its journal.
func checkDAGRun(t *testing.T, store journal.Store, steps []dagStep, limit int, runID string) {
	t.Helper()
	n := len(steps)
	tr := newDAGTrace(n)
	e := durable.NewEngine(dagStore{Store: store, tr: tr}, durable.WithOwner("dag"))
	d, err := durable.Register(e, dagSaga(steps, tr), durable.Limit(limit))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Run(saga.WithRunID(context.Background(), runID), &dagState{})
	if !errors.Is(err, errDAG) {
		t.Fatalf("run %s: want a step's failure, got %v", runID, err)
	}
	if rep.Status != saga.StatusCompensated {
		t.Fatalf("run %s: status %v, want compensated", runID, rep.Status)
	}

	// What each step should show, from what its action did.
	var got, want []string
	for i, s := range steps {
		a, c := tr.act[i], tr.cmp[i]
		status, comps := saga.StepPending, 0
		switch {
		case a.n == 0:
		case a.ok || s.ifFailed:
			status, comps = saga.StepCompensated, 1
		case a.cancelled:
			status = saga.StepCancelled
		default:
			status = saga.StepFailed
		}
		if a.n > 1 {
			t.Errorf("%s: action called %d times", dagName(i), a.n)
		}
		if a.n > 0 && !a.cancelled && a.ok == s.fail {
			t.Errorf("%s: action ok=%v, fail=%v", dagName(i), a.ok, s.fail)
		}
		if a.cancelled && !s.slow {
			t.Errorf("%s: cancelled, but only slow steps return their context's error", dagName(i))
		}
		want = append(want, fmt.Sprintf("%s %v comps=%d", dagName(i), status, comps))
		got = append(got, fmt.Sprintf("%s %v comps=%d", rep.Steps[i].Name, rep.Steps[i].Status, c.n))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("run %s: steps (-want +got):\n%s", runID, diff)
	}
	count := map[saga.StepStatus]int{}
	for _, s := range rep.Steps {
		count[s.Status]++
	}
	t.Logf("run %s: %d steps: %d compensated, %d failed, %d cancelled, %d never ran", runID, n,
		count[saga.StepCompensated], count[saga.StepFailed], count[saga.StepCancelled], count[saga.StepPending])

	// The order of actions and compensations along the dependencies.
	for i, s := range steps {
		for _, j := range s.deps { // j -> i: i runs after j
			if tr.act[i].n > 0 && !(tr.act[j].ok && tr.act[j].end < tr.act[i].start) {
				t.Errorf("%s ran (from %d) before its dependency %s succeeded (ok=%v, end %d)",
					dagName(i), tr.act[i].start, dagName(j), tr.act[j].ok, tr.act[j].end)
			}
			if tr.cmp[i].n > 0 && tr.cmp[j].n > 0 && tr.cmp[i].end > tr.cmp[j].start {
				t.Errorf("%s compensated (from %d) before its dependent %s's compensation ended (%d)",
					dagName(j), tr.cmp[j].start, dagName(i), tr.cmp[i].end)
			}
		}
	}

	checkDAGJournal(t, store, steps, tr, rep, runID)
}

// checkDAGJournal checks a random graph run's journal against its trace:
// each step that ran is journaled started once, before its action began,
// and ended once, after it ended, with the outcome its action had; each
// compensation likewise; along every dependency the journal keeps the
// order of actions and of compensations; steps that never ran are not in
// it.
func checkDAGJournal(t *testing.T, store journal.Store, steps []dagStep, tr *dagTrace, rep *saga.Report, runID string) {
	t.Helper()
	run, entries, err := store.Load(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != journal.Compensated || run.Ended.IsZero() || !strings.Contains(run.Error, errDAG.Error()) {
		t.Errorf("run %s: header status %s, ended %v, error %q: want compensated, ended, with the failure",
			runID, run.Status, run.Ended, run.Error)
	}
	if len(entries) < 2 || entries[0].Kind != journal.RunStarted || entries[len(entries)-1].Kind != journal.RunEnded ||
		entries[len(entries)-1].Status != journal.Compensated {
		t.Fatalf("run %s: journal does not start with run_started and end with run_ended compensated: %v", runID, kinds(entries))
	}
	if len(tr.dups) > 0 {
		t.Errorf("run %s: entries journaled twice: %v", runID, tr.dups)
	}

	// Each step's entries, by kind, with their positions in the journal.
	type stepEntries map[journal.Kind][]int
	byStep := map[string]stepEntries{}
	lastEnd, firstComp := -1, len(entries)
	ran := 0
	for k, e := range entries {
		if e.Step == "" {
			continue
		}
		if byStep[e.Step] == nil {
			byStep[e.Step] = stepEntries{}
		}
		byStep[e.Step][e.Kind] = append(byStep[e.Step][e.Kind], k)
		if e.Attempt != 1 {
			t.Errorf("run %s: %s %s has execution %d, want 1", runID, e.Kind, e.Step, e.Attempt)
		}
		switch e.Kind {
		case journal.StepSucceeded, journal.StepFailed, journal.StepCancelled:
			lastEnd = k
		case journal.CompStarted:
			firstComp = min(firstComp, k)
		}
		if e.Kind == journal.StepSucceeded {
			var snap dagState
			if err := json.Unmarshal(e.State, &snap); err != nil {
				t.Fatalf("run %s: %s's snapshot: %v", runID, e.Step, err)
			}
			ran++
			if got := snap.Ran.Get(); got != ran {
				t.Errorf("run %s: the snapshot of %s counts %d steps, want %d (the steps journaled as succeeded so far)",
					runID, e.Step, got, ran)
			}
		}
	}
	if lastEnd > firstComp {
		t.Errorf("run %s: a step ended (entry %d) after compensating began (entry %d)", runID, lastEnd, firstComp)
	}

	only := func(se stepEntries, k journal.Kind) int { // the position of k's one entry, -1 if none
		switch len(se[k]) {
		case 0:
			return -1
		case 1:
			return se[k][0]
		}
		t.Errorf("run %s: %d %s entries", runID, len(se[k]), k)
		return se[k][0]
	}
	pos := make([]map[journal.Kind]int, len(steps))
	for i := range steps {
		name := dagName(i)
		se, a, c := byStep[name], tr.act[i], tr.cmp[i]
		pos[i] = map[journal.Kind]int{}
		for _, k := range []journal.Kind{journal.StepStarted, journal.StepSucceeded, journal.StepFailed,
			journal.StepCancelled, journal.CompStarted, journal.CompSucceeded, journal.CompFailed} {
			pos[i][k] = only(se, k)
		}
		if a.n == 0 {
			if len(se) > 0 {
				t.Errorf("run %s: %s never ran, but is journaled: %v", runID, name, se)
			}
			continue
		}
		wantEnd := journal.StepFailed
		switch {
		case a.ok:
			wantEnd = journal.StepSucceeded
		case a.cancelled:
			wantEnd = journal.StepCancelled
		}
		var ends []journal.Kind
		for _, k := range []journal.Kind{journal.StepSucceeded, journal.StepFailed, journal.StepCancelled} {
			if pos[i][k] >= 0 {
				ends = append(ends, k)
			}
		}
		if pos[i][journal.StepStarted] < 0 || !slices.Equal(ends, []journal.Kind{wantEnd}) ||
			pos[i][wantEnd] < pos[i][journal.StepStarted] {
			t.Errorf("run %s: %s journaled as started at %d and ended %v, want started, then %s",
				runID, name, pos[i][journal.StepStarted], ends, wantEnd)
			continue
		}
		// The journal writes against the actions: the start was written
		// before the action began, the end after it ended.
		if js := tr.jrnl[string(journal.StepStarted)+" "+name]; js == 0 || js > a.start {
			t.Errorf("run %s: %s's action began (%d) before its start was journaled (%d)", runID, name, a.start, js)
		}
		if je := tr.jrnl[string(wantEnd)+" "+name]; je < a.end {
			t.Errorf("run %s: %s's end was journaled (%d) before its action ended (%d)", runID, name, je, a.end)
		}
		if c.n == 0 {
			if pos[i][journal.CompStarted] >= 0 || pos[i][journal.CompSucceeded] >= 0 || pos[i][journal.CompFailed] >= 0 {
				t.Errorf("run %s: %s is not compensated, but its compensation is journaled", runID, name)
			}
			continue
		}
		cs, ce := pos[i][journal.CompStarted], pos[i][journal.CompSucceeded]
		if cs < 0 || ce < cs || pos[i][journal.CompFailed] >= 0 {
			t.Errorf("run %s: %s's compensation journaled at %d..%d, want started then succeeded", runID, name, cs, ce)
			continue
		}
		if js := tr.jrnl[string(journal.CompStarted)+" "+name]; js > c.start {
			t.Errorf("run %s: %s's compensation began (%d) before its start was journaled (%d)", runID, name, c.start, js)
		}
		if je := tr.jrnl[string(journal.CompSucceeded)+" "+name]; je < c.end {
			t.Errorf("run %s: %s's compensation's end was journaled (%d) before it ended (%d)", runID, name, je, c.end)
		}
	}

	// Along each dependency j -> i: j's success is journaled before i's
	// start, and i's compensation's end before j's compensation's start.
	for i, s := range steps {
		for _, j := range s.deps {
			if st := pos[i][journal.StepStarted]; st >= 0 && !(pos[j][journal.StepSucceeded] >= 0 && pos[j][journal.StepSucceeded] < st) {
				t.Errorf("run %s: %s journaled as started (%d) before %s's success (%d)",
					runID, dagName(i), st, dagName(j), pos[j][journal.StepSucceeded])
			}
			if ie, js := pos[i][journal.CompSucceeded], pos[j][journal.CompStarted]; ie >= 0 && js >= 0 && ie > js {
				t.Errorf("run %s: %s's compensation journaled as started (%d) before its dependent %s's ended (%d)",
					runID, dagName(j), js, dagName(i), ie)
			}
		}
	}

	// The report Inspect rebuilds agrees with the one Run returned.
	view, err := durable.Inspect(context.Background(), store, runID)
	if err != nil {
		t.Fatal(err)
	}
	if view.Report.Status != saga.StatusCompensated {
		t.Errorf("run %s: inspected status %v", runID, view.Report.Status)
	}
	for i := range steps {
		s, ok := view.Report.Step(dagName(i))
		switch {
		case tr.act[i].n == 0 && ok:
			t.Errorf("run %s: inspect reports %s, which never ran", runID, dagName(i))
		case tr.act[i].n > 0 && !ok:
			t.Errorf("run %s: inspect does not report %s, which ran", runID, dagName(i))
		case ok && s.Status != rep.Steps[i].Status:
			t.Errorf("run %s: inspect reports %s %v, Run %v", runID, dagName(i), s.Status, rep.Steps[i].Status)
		}
	}
}

// snapFields is the state of a fan-out of 16 siblings: each writes its own
// field, and all of them add their names to Ended.
type snapFields struct {
	Root                                   string
	S00, S01, S02, S03, S04, S05, S06, S07 string
	S08, S09, S10, S11, S12, S13, S14, S15 string
	Join                                   string
	Ended                                  state.Cell[[]string]
	Sum                                    state.Cell[int]
}

// snapSaga: root, then 16 siblings at once, then join. Each step sets
// its field to its name, adds its name to Ended and its weight to Sum.
// fail names a sibling that fails after writing (none if "").
func snapSaga(fail string, sleep func()) *saga.Saga[snapFields] {
	set := func(name string) func(context.Context, *snapFields) error {
		return func(ctx context.Context, s *snapFields) error {
			sleep()
			reflect.ValueOf(s).Elem().FieldByName(name).SetString(name)
			s.Ended.Update(func(e []string) []string { return append(e, name) })
			s.Sum.Update(func(n int) int { return n + snapWeight(name) })
			sleep()
			if name == fail {
				return fmt.Errorf("%s: %w", name, errDAG)
			}
			return nil
		}
	}
	b := saga.New[snapFields]().Name("snap").Step("Root", set("Root"), nil)
	var all []string
	for k := range 16 {
		name := fmt.Sprintf("S%02d", k)
		all = append(all, name)
		b.Step(name, set(name), nil, saga.After("Root"))
	}
	return b.Step("Join", func(ctx context.Context, s *snapFields) error {
		// Join runs on a fork of the newest snapshot: every sibling's
		// effects are in it.
		for _, name := range all {
			if reflect.ValueOf(s).Elem().FieldByName(name).String() != name {
				return fmt.Errorf("join: %s's field is not in its fork", name)
			}
		}
		return set("Join")(ctx, s)
	}, nil, saga.After(all...)).Build()
}

// snapWeight gives each step a distinct power of two, so that a sum tells
// which steps it counts.
func snapWeight(name string) int {
	switch name {
	case "Root":
		return 1 << 16
	case "Join":
		return 1 << 17
	}
	k, _ := strconv.Atoi(name[1:])
	return 1 << k
}

// Every snapshot a graph run journals holds exactly the effects of the
// steps journaled as ended up to its entry, its own included: their
// fields, each of their Cell updates once, and nothing of a step that
// has not ended in the journal yet, while 16 siblings end in a random
// order.
func TestGraphSnapshotsHoldExactlyTheEndedSteps(t *testing.T) {
	for _, c := range []struct {
		name  string
		fail  string
		limit int
	}{
		{"all", "", 0}, {"limit", "", 3}, {"failing", "S07", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			for run := range 10 {
				r := rand.New(rand.NewPCG(uint64(run), 0x5a9))
				var mu sync.Mutex
				sleep := func() {
					mu.Lock()
					d := time.Duration(r.IntN(300)) * time.Microsecond
					mu.Unlock()
					time.Sleep(d)
				}
				store := journal.NewMemory()
				e := durable.NewEngine(store)
				d, err := durable.Register(e, snapSaga(c.fail, sleep), durable.Limit(c.limit))
				if err != nil {
					t.Fatal(err)
				}
				id := fmt.Sprintf("snap-%d", run)
				_, err = d.Run(saga.WithRunID(context.Background(), id), &snapFields{})
				if (c.fail == "") != (err == nil) {
					t.Fatalf("run %s: %v", id, err)
				}
				_, entries, err := store.Load(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				checkSnapshots(t, id, entries)
			}
		})
	}
}

func checkSnapshots(t *testing.T, id string, entries []journal.Entry) {
	t.Helper()
	var ended []string
	snaps := 0
	for k, e := range entries {
		switch e.Kind {
		case journal.StepSucceeded, journal.StepFailed, journal.StepCancelled:
			ended = append(ended, e.Step)
		}
		if e.Kind != journal.StepSucceeded {
			if e.State != nil && e.Kind != journal.RunStarted {
				t.Errorf("run %s: entry %d (%s %s) carries a snapshot", id, k, e.Kind, e.Step)
			}
			continue
		}
		snaps++
		var s snapFields
		if err := json.Unmarshal(e.State, &s); err != nil {
			t.Fatalf("run %s: entry %d: %v", id, k, err)
		}
		v := reflect.ValueOf(&s).Elem()
		var set []string
		for _, name := range append([]string{"Root", "Join"}, fieldNames(16)...) {
			switch got := v.FieldByName(name).String(); got {
			case "":
			case name:
				set = append(set, name)
			default:
				t.Errorf("run %s: entry %d: field %s is %q", id, k, name, got)
			}
		}
		want := slices.Sorted(slices.Values(ended))
		slices.Sort(set)
		cells := slices.Sorted(slices.Values(s.Ended.Get()))
		sum := 0
		for _, name := range ended {
			sum += snapWeight(name)
		}
		if !slices.Equal(set, want) || !slices.Equal(cells, want) || s.Sum.Get() != sum {
			t.Fatalf("run %s: the snapshot of %s's end (entry %d) holds fields %v, Ended %v, Sum %#x;\nwant the steps journaled as ended: %v (Sum %#x)\njournal: %v",
				id, e.Step, k, set, cells, s.Sum.Get(), want, sum, kinds(entries))
		}
	}
	if snaps == 0 {
		t.Fatalf("run %s: no snapshot: %v", id, kinds(entries))
	}
}

func fieldNames(n int) []string {
	out := make([]string, n)
	for k := range out {
		out[k] = fmt.Sprintf("S%02d", k)
	}
	return out
}

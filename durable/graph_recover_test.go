package durable_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/state"
)

// A graph run crashed at each of its journal writes in turn, then
// recovered by another engine; and the operator verbs on a paused graph
// run.

// recState is a recovered graph's state: the steps whose effects it
// holds and their idempotency keys, in the order their forks merged.
type recState struct {
	Done state.Cell[[]string]
	Keys state.Cell[[]string]
}

// recWorld is what the outside world saw of a graph run's steps, across
// the processes that drove it: a participant that takes one effect per
// idempotency key, undoes a key once, and leaves a tombstone for a key it
// is asked to undo before it saw it; and every call, its key, and when it
// began and ended, as positions in one sequence.
type recWorld struct {
	mu      sync.Mutex
	seq     int
	calls   map[string][]recCall // "do x" and "undo x"
	keys    map[string]string    // key → "done", "undone" or "tombstone"
	effects map[string]int       // step → effects taken
	undone  map[string]int       // step → effects undone
}

type recCall struct {
	key        string
	start, end int
}

func newRecWorld() *recWorld {
	return &recWorld{calls: map[string][]recCall{}, keys: map[string]string{}, effects: map[string]int{}, undone: map[string]int{}}
}

func (w *recWorld) begin(call, key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	w.calls[call] = append(w.calls[call], recCall{key: key, start: w.seq})
	return len(w.calls[call]) - 1
}

func (w *recWorld) end(call string, k int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	w.calls[call][k].end = w.seq
}

// do takes step's effect under key, once per key; a tombstoned key is
// refused.
func (w *recWorld) do(step, key string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.keys[key] {
	case "":
		w.keys[key] = "done"
		w.effects[step]++
	case "tombstone":
		return fmt.Errorf("%s: key %s was undone before it was done", step, key)
	}
	return nil
}

// undo undoes step's effect under key, once per key.
func (w *recWorld) undo(step, key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.keys[key] {
	case "":
		w.keys[key] = "tombstone"
	case "done":
		w.keys[key] = "undone"
		w.undone[step]++
	}
}

func (w *recWorld) n(call string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.calls[call])
}

func (w *recWorld) get(call string) []recCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.calls[call])
}

// recGate holds the first n callers until all n have arrived, so that
// siblings are in flight together, or until the process dies (dead is
// closed): then their siblings may never come. Later callers pass.
type recGate struct {
	n    int
	mu   sync.Mutex
	in   int
	all  chan struct{}
	dead <-chan struct{}
}

func newRecGate(n int, dead <-chan struct{}) *recGate {
	return &recGate{n: n, all: make(chan struct{}), dead: dead}
}

func (g *recGate) pass() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.in++
	if g.in == g.n {
		close(g.all)
	}
	g.mu.Unlock()
	select {
	case <-g.all:
	case <-g.dead:
	case <-time.After(10 * time.Second):
		panic("recGate: the siblings did not run at once")
	}
}

// recStep is how one step of a recovery graph behaves.
type recStep struct {
	name     string
	after    []string
	opts     []saga.StepOption
	gated    bool // waits at the gate (in the process that crashes)
	fail     bool // takes its effect, then fails
	noUndo   bool // has no compensation
	ifFailed bool
}

// recSaga builds a graph of steps: each takes its effect in w under its
// idempotency key and records itself in the state; each compensation
// undoes the key it is given. g is the crashing process's gate (nil for
// the one that recovers: both sagas have the same fingerprint).
func recSaga(w *recWorld, g *recGate, steps []recStep) *saga.Saga[recState] {
	b := saga.New[recState]().Name("graph")
	for _, s := range steps {
		act := func(ctx context.Context, st *recState) error {
			key := durable.IdempotencyKey(ctx)
			k := w.begin("do "+s.name, key)
			defer w.end("do "+s.name, k)
			if s.gated {
				g.pass()
			}
			if err := w.do(s.name, key); err != nil {
				return err
			}
			if s.fail {
				return fmt.Errorf("%s: %w", s.name, errDAG)
			}
			st.Done.Update(func(d []string) []string { return append(d, s.name) })
			st.Keys.Update(func(d []string) []string { return append(d, key) })
			return nil
		}
		var undo func(context.Context, *recState) error
		if !s.noUndo {
			undo = func(ctx context.Context, _ *recState) error {
				key := durable.IdempotencyKey(ctx)
				k := w.begin("undo "+s.name, key)
				defer w.end("undo "+s.name, k)
				w.undo(s.name, key)
				return nil
			}
		}
		opts := append([]saga.StepOption{saga.After(s.after...)}, s.opts...)
		if s.ifFailed {
			opts = append(opts, saga.CompensateIfFailed())
		}
		b.Step(s.name, act, undo, opts...)
	}
	return b.Build()
}

// recGraph is a, then b, c and d at once (gated), then e after b and c,
// f after d, and g after e and f. change adjusts the steps.
func recGraph(change func(s *recStep)) []recStep {
	steps := []recStep{
		{name: "a"},
		{name: "b", after: []string{"a"}, gated: true},
		{name: "c", after: []string{"a"}, gated: true},
		{name: "d", after: []string{"a"}, gated: true},
		{name: "e", after: []string{"b", "c"}},
		{name: "f", after: []string{"d"}},
		{name: "g", after: []string{"e", "f"}},
	}
	for i := range steps {
		change(&steps[i])
	}
	return steps
}

// recCrash wraps a store and fails every write (Create or Append) after
// the first left: a process that dies at that write. Its run stays
// leased and unfinished. dead is closed at the first failed write.
type recCrash struct {
	journal.Store
	mu     sync.Mutex
	left   int
	writes int // attempted
	dead   chan struct{}
}

func newRecCrash(s journal.Store, left int) *recCrash {
	return &recCrash{Store: s, left: left, dead: make(chan struct{})}
}

func (c *recCrash) write() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	if c.left == 0 {
		select {
		case <-c.dead:
		default:
			close(c.dead)
		}
		return false
	}
	c.left--
	return true
}

func (c *recCrash) crashed() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

func (c *recCrash) Create(ctx context.Context, run journal.Run, entries ...journal.Entry) error {
	if !c.write() {
		return errCrash
	}
	return c.Store.Create(ctx, run, entries...)
}

func (c *recCrash) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	if !c.write() {
		return errCrash
	}
	return c.Store.Append(ctx, runID, owner, u, entries...)
}

func (c *recCrash) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	if c.crashed() {
		return errCrash
	}
	return c.Store.Renew(ctx, runID, owner, ttl)
}

func (c *recCrash) Release(ctx context.Context, runID, owner string) error {
	if c.crashed() {
		return errCrash
	}
	return c.Store.Release(ctx, runID, owner)
}

// recBefore is what the journal held when the process died.
type recBefore struct {
	n       int // the writes that succeeded
	created bool
	status  journal.Status
	ended   map[string]journal.Kind // steps journaled as ended, and how
	open    []string                // journaled as started, not ended: outcome unknown
	entries []journal.Entry
}

func (b recBefore) succeeded(names ...string) bool {
	for _, n := range names {
		if b.ended[n] != journal.StepSucceeded {
			return false
		}
	}
	return true
}

func (b recBefore) isOpen(name string) bool { return slices.Contains(b.open, name) }

// recAfter is the run after recovery.
type recAfter struct {
	store   journal.Store
	run     journal.Run
	entries []journal.Entry
	w       *recWorld
}

const recID = "g"

// recSweep crashes a run of steps at its first write, then its second,
// and so on until a run makes all its writes, each time recovering the
// run with a second engine, registered with opts, and checking it. The
// siblings marked gated wait for one another (gate of them) in the
// process that dies. It returns how many crash points it went through
// and the most steps of unknown outcome a crash left.
func recSweep(t *testing.T, steps []recStep, gate int, opts []durable.DefOption, check func(t *testing.T, b recBefore, a recAfter)) (points, maxOpen int) {
	t.Helper()
	// The writes a run makes vary with how its steps' entries share
	// them: sweep a few times to meet more of the states between them.
	for round := range recRounds {
		t.Run(fmt.Sprintf("round=%d", round), func(t *testing.T) {
			p, m := recSweepOnce(t, steps, gate, opts, check)
			points, maxOpen = max(points, p), max(maxOpen, m)
		})
	}
	return points, maxOpen
}

const recRounds = 3

func recSweepOnce(t *testing.T, steps []recStep, gate int, opts []durable.DefOption, check func(t *testing.T, b recBefore, a recAfter)) (points, maxOpen int) {
	t.Helper()
	ctx := context.Background()
	for n := 0; ; n++ {
		if n > 100 {
			t.Fatal("a run makes more than 100 writes")
		}
		clk := newClock()
		store := journal.NewMemory(journal.WithClock(clk.now))
		w := newRecWorld()
		crash := newRecCrash(store, n)
		dead := durable.NewEngine(crash, durable.WithOwner("dead"), durable.WithLeaseTTL(ttl))
		d, err := durable.Register(dead, recSaga(w, newRecGate(gate, crash.dead), steps), opts...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Run(saga.WithRunID(ctx, recID), &recState{})
		if !crash.crashed() {
			return n, maxOpen // the run made all its writes
		}
		if !errors.Is(err, errCrash) {
			t.Fatalf("crash at write %d: want the simulated crash, got %v", n+1, err)
		}
		b := recBefore{n: n, ended: map[string]journal.Kind{}}
		run, entries, err := store.Load(ctx, recID)
		switch {
		case errors.Is(err, journal.ErrNotFound):
		case err != nil:
			t.Fatal(err)
		default:
			b.created, b.status, b.entries = true, run.Status, entries
			started := map[string]bool{}
			for _, e := range entries {
				switch e.Kind {
				case journal.StepStarted:
					started[e.Step] = true
					delete(b.ended, e.Step)
				case journal.StepSucceeded, journal.StepFailed, journal.StepCancelled:
					b.ended[e.Step] = e.Kind
				}
			}
			for _, s := range steps {
				if _, ok := b.ended[s.name]; started[s.name] && !ok {
					b.open = append(b.open, s.name)
				}
			}
			maxOpen = max(maxOpen, len(b.open))
		}

		clk.advance(2 * ttl)
		worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
		if _, err := durable.Register(worker, recSaga(w, nil, steps), opts...); err != nil {
			t.Fatal(err)
		}
		got, err := worker.Recover(ctx, 0)
		want := 0
		if b.created {
			want = 1
		}
		if err != nil || got != want {
			t.Fatalf("crash at write %d: recovered %d runs, want %d: %v", n+1, got, want, err)
		}
		a := recAfter{store: store}
		if b.created {
			if a.run, a.entries, err = store.Load(ctx, recID); err != nil {
				t.Fatal(err)
			}
		}
		a.w = w
		t.Run(fmt.Sprintf("crash=%d", n+1), func(t *testing.T) {
			check(t, b, a)
			if t.Failed() {
				t.Logf("journal before recovery: %v\nafter: %v", kinds(b.entries), kinds(a.entries))
			}
		})
	}
}

// recOutcome checks the run's final status, and the things that hold
// whatever it is: the state of a succeeded run holds every step once;
// a compensated run's steps that may have taken effect are undone once
// and steps that never ran are never compensated; compensations and
// actions keep the dependency order; an action runs twice only if its
// outcome was unknown, under the same key.
func recOutcome(t *testing.T, steps []recStep, b recBefore, a recAfter, want journal.Status) {
	t.Helper()
	w := a.w
	if !b.created {
		for _, s := range steps {
			if w.n("do "+s.name) > 0 {
				t.Errorf("no run was journaled, but %s ran", s.name)
			}
		}
		return
	}
	if a.run.Status != want {
		t.Fatalf("status %s (error %q), want %s", a.run.Status, a.run.Error, want)
	}
	for _, s := range steps {
		do, undo := w.get("do "+s.name), w.get("undo "+s.name)
		ran := b.ended[s.name] != "" || b.isOpen(s.name) // in the process that died
		switch {
		case len(do) > 2:
			t.Errorf("%s ran %d times", s.name, len(do))
		case len(do) == 2 && !b.isOpen(s.name):
			t.Errorf("%s ran again, but its outcome was known", s.name)
		case len(do) == 2 && do[0].key != do[1].key:
			t.Errorf("%s ran again under another key: %s, %s", s.name, do[0].key, do[1].key)
		}
		if len(do) > 0 && do[0].key != recID+"/"+s.name+"/1" {
			t.Errorf("%s ran under key %s", s.name, do[0].key)
		}
		if !ran && len(do) > 0 && b.status != journal.Running {
			t.Errorf("%s ran after the run stopped going forward", s.name)
		}
		if w.effects[s.name] > 1 {
			t.Errorf("%s took effect %d times", s.name, w.effects[s.name])
		}
		switch want {
		case journal.Succeeded:
			if w.effects[s.name] != 1 || len(undo) > 0 {
				t.Errorf("%s: %d effects, %d compensations, want 1 and 0", s.name, w.effects[s.name], len(undo))
			}
		case journal.Compensated:
			compensable := !s.noUndo && (!s.fail || s.ifFailed)
			switch {
			case len(do) == 0 && len(undo) > 0:
				t.Errorf("%s never ran, but was compensated", s.name)
			case compensable && w.effects[s.name] != w.undone[s.name]:
				t.Errorf("%s took effect %d times, undone %d times", s.name, w.effects[s.name], w.undone[s.name])
			case !compensable && len(undo) > 0:
				t.Errorf("%s was compensated, but is not compensable", s.name)
			}
			if len(undo) > 2 {
				t.Errorf("%s compensated %d times", s.name, len(undo))
			}
		case journal.Paused:
			if len(undo) > 0 {
				t.Errorf("%s compensated in a paused run", s.name)
			}
		}
		for _, u := range undo {
			if len(do) > 0 && u.key != do[0].key {
				t.Errorf("%s's compensation undoes key %s, its action had %s", s.name, u.key, do[0].key)
			}
		}
	}
	// Along each dependency j -> i: i's actions after j's, j's
	// compensations after i's.
	for _, s := range steps {
		for _, dep := range s.after {
			do, depDo := w.get("do "+s.name), w.get("do "+dep)
			if len(do) > 0 && (len(depDo) == 0 || do[0].start < depDo[len(depDo)-1].end) {
				t.Errorf("%s ran (from %d) before its dependency %s ended (%v)", s.name, do[0].start, dep, depDo)
			}
			undo, depUndo := w.get("undo "+s.name), w.get("undo "+dep)
			if len(undo) > 0 && len(depUndo) > 0 && undo[len(undo)-1].end > depUndo[0].start {
				t.Errorf("%s compensated (from %d) before its dependent %s's compensation ended (%d)",
					dep, depUndo[0].start, s.name, undo[len(undo)-1].end)
			}
		}
	}
	if want == journal.Succeeded {
		// The newest snapshot, in the entries (the header's may be older:
		// see Inspect).
		v, err := durable.Inspect(context.Background(), a.store, recID)
		if err != nil {
			t.Fatal(err)
		}
		var st recState
		if err := jsonDecode(v.State, &st); err != nil {
			t.Fatal(err)
		}
		done := slices.Sorted(slices.Values(st.Done.Get()))
		var names, keys []string
		for _, s := range steps {
			names = append(names, s.name)
			keys = append(keys, recID+"/"+s.name+"/1")
		}
		slices.Sort(names)
		if !slices.Equal(done, names) || !slices.Equal(slices.Sorted(slices.Values(st.Keys.Get())), keys) {
			t.Errorf("final state holds %v, keys %v; want each step once", st.Done.Get(), st.Keys.Get())
		}
	}
}

// Under ResumeAfterCrash, with idempotent steps: whatever write the
// process died at, even with siblings in flight, the run recovers to
// success, each step taking its effect once, a step whose outcome was
// unknown running again under the same key.
func TestGraphRecoverResumeIdempotent(t *testing.T) {
	for _, limit := range []int{0, 2} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			steps := recGraph(func(s *recStep) { s.opts = []saga.StepOption{saga.Idempotent()} })
			gate := 3
			if limit > 0 {
				gate = limit
			}
			points, maxOpen := recSweep(t, steps, gate, []durable.DefOption{durable.Limit(limit)}, func(t *testing.T, b recBefore, a recAfter) {
				recOutcome(t, steps, b, a, journal.Succeeded)
			})
			if maxOpen < gate {
				t.Errorf("no crash left %d siblings in flight (at most %d, over %d crash points)", gate, maxOpen, points)
			}
		})
	}
}

// Under CompensateAfterCrash: a run that had not finished going forward
// is compensated, every step that may have taken effect (those of
// unknown outcome included) undone once, in reverse dependency order;
// one whose every step had succeeded ends succeeded.
func TestGraphRecoverCompensateAfterCrash(t *testing.T) {
	for _, idem := range []bool{true, false} {
		t.Run(fmt.Sprintf("idempotent=%v", idem), func(t *testing.T) {
			steps := recGraph(func(s *recStep) {
				if idem {
					s.opts = []saga.StepOption{saga.Idempotent()}
				}
			})
			names := recNames(steps)
			_, maxOpen := recSweep(t, steps, 3, []durable.DefOption{durable.OnCrash(durable.CompensateAfterCrash)}, func(t *testing.T, b recBefore, a recAfter) {
				want := journal.Compensated
				if b.succeeded(names...) {
					want = journal.Succeeded
				}
				recOutcome(t, steps, b, a, want)
			})
			if maxOpen < 3 {
				t.Errorf("no crash left three siblings in flight")
			}
		})
	}
}

// A sibling fails (and may have taken effect: CompensateIfFailed) while
// the others succeed: the dying process compensates; wherever it died,
// recovery under CompensateAfterCrash finishes compensating, each
// compensation undoing its key once even when it runs twice, in reverse
// dependency order.
func TestGraphRecoverFailedSibling(t *testing.T) {
	steps := recGraph(func(s *recStep) {
		s.opts = []saga.StepOption{saga.Idempotent()}
		if s.name == "d" {
			s.fail, s.ifFailed = true, true
		}
	})
	points, _ := recSweep(t, steps, 3, []durable.DefOption{durable.OnCrash(durable.CompensateAfterCrash)}, func(t *testing.T, b recBefore, a recAfter) {
		recOutcome(t, steps, b, a, journal.Compensated)
		if b.created && a.w.n("do d") > 1 {
			t.Errorf("d, journaled as failed, ran again")
		}
	})
	if points < 10 {
		t.Errorf("only %d crash points", points)
	}
}

// A sibling that is not idempotent, of unknown outcome, decides for all
// the steps in flight: the run is compensated (c included), or paused
// for a person with PauseOnFailure, who then compensates it. When c's
// outcome is known, the idempotent siblings run again and the run
// succeeds.
func TestGraphRecoverNonIdempotentSibling(t *testing.T) {
	steps := recGraph(func(s *recStep) {
		if s.name != "c" {
			s.opts = []saga.StepOption{saga.Idempotent()}
		}
	})
	t.Run("resume", func(t *testing.T) {
		compensated := 0
		recSweep(t, steps, 3, nil, func(t *testing.T, b recBefore, a recAfter) {
			want := journal.Succeeded
			if b.isOpen("c") {
				want = journal.Compensated
				compensated++
				if a.w.undone["c"] != 1 {
					t.Errorf("c, of unknown outcome, undone %d times", a.w.undone["c"])
				}
			}
			recOutcome(t, steps, b, a, want)
		})
		if compensated == 0 {
			t.Error("no crash left c's outcome unknown")
		}
	})
	t.Run("pause", func(t *testing.T) {
		paused := 0
		opts := []durable.DefOption{durable.PauseOnFailure()}
		recSweep(t, steps, 3, opts, func(t *testing.T, b recBefore, a recAfter) {
			if !b.isOpen("c") {
				recOutcome(t, steps, b, a, journal.Succeeded)
				return
			}
			paused++
			recOutcome(t, steps, b, a, journal.Paused)
			if !strings.Contains(a.run.Error, durable.ErrOutcomeUnknown.Error()) || !strings.Contains(a.run.Error, `"c"`) {
				t.Errorf("paused with error %q, want c's outcome unknown", a.run.Error)
			}
			for _, s := range steps {
				if n := a.w.n("do " + s.name); n > 1 {
					t.Errorf("%s ran again in a paused run", s.name)
				}
			}
			// The person compensates it.
			e := durable.NewEngine(a.store, durable.WithOwner("operator"))
			if _, err := durable.Register(e, recSaga(a.w, nil, steps), opts...); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Compensate(context.Background(), recID, "c not found: undo everything"); err != nil {
				t.Fatalf("compensate: %v", err)
			}
			a.run, _, _ = a.store.Load(context.Background(), recID)
			recOutcome(t, steps, b, a, journal.Compensated)
			if a.w.undone["c"] != 1 {
				t.Errorf("c undone %d times", a.w.undone["c"])
			}
		})
		if paused == 0 {
			t.Error("no crash left c's outcome unknown")
		}
	})
}

func recNames(steps []recStep) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.name)
	}
	return out
}

// A graph with a pivot: a, then b and c at once, then the pivot p (a
// barrier: after every step declared before it, before every step after),
// then r1 and r2 at once, retriable. A crash that leaves p's outcome
// unknown pauses the run under ResumeAfterCrash, and under
// CompensateAfterCrash when p has no compensation; with one, the run is
// compensated, p included. Past the pivot, the run succeeds.
func TestGraphRecoverPivot(t *testing.T) {
	graph := func(undo bool) []recStep {
		return []recStep{
			{name: "a", opts: []saga.StepOption{saga.Idempotent()}},
			{name: "b", after: []string{"a"}, gated: true, opts: []saga.StepOption{saga.Idempotent()}},
			{name: "c", after: []string{"a"}, gated: true, opts: []saga.StepOption{saga.Idempotent()}},
			{name: "p", opts: []saga.StepOption{saga.Pivot()}, noUndo: !undo},
			{name: "r1", opts: []saga.StepOption{saga.Retriable()}, noUndo: true},
			{name: "r2", opts: []saga.StepOption{saga.Retriable()}, noUndo: true},
		}
	}
	for _, c := range []struct {
		name   string
		undo   bool
		policy durable.CrashPolicy
		open   journal.Status // the outcome when p's outcome is unknown
		before journal.Status // when the crash came before p started
	}{
		{"resume", true, durable.ResumeAfterCrash, journal.Paused, journal.Succeeded},
		{"compensate", true, durable.CompensateAfterCrash, journal.Compensated, journal.Compensated},
		{"compensate-no-way-back", false, durable.CompensateAfterCrash, journal.Paused, journal.Compensated},
	} {
		t.Run(c.name, func(t *testing.T) {
			steps := graph(c.undo)
			unknown := 0
			recSweep(t, steps, 2, []durable.DefOption{durable.OnCrash(c.policy)}, func(t *testing.T, b recBefore, a recAfter) {
				want := c.before
				switch {
				case b.isOpen("p"):
					want = c.open
					unknown++
				case b.succeeded("p"):
					want = journal.Succeeded // past the point of no return
				}
				recOutcome(t, steps, b, a, want)
				if b.isOpen("p") {
					if a.w.n("do p") != 1 || a.w.n("do r1")+a.w.n("do r2") != 0 {
						t.Errorf("p ran %d times, r1 and r2 %d: an unknown pivot is neither run again nor taken for a success",
							a.w.n("do p"), a.w.n("do r1")+a.w.n("do r2"))
					}
					if want == journal.Paused && (!strings.Contains(a.run.Error, durable.ErrOutcomeUnknown.Error()) || !strings.Contains(a.run.Error, `"p"`)) {
						t.Errorf("paused with error %q, want p's outcome unknown", a.run.Error)
					}
				}
			})
			if unknown == 0 {
				t.Error("no crash left p's outcome unknown")
			}
		})
	}
}

var errVerb = errors.New("service down")

// verbCtl drives verbSaga: in the first pass (first), b, c and d wait
// for one another, c waits for b2 to start and fails, and d waits for
// its context to end (it is cancelled); later, c fails while broken and
// d succeeds.
type verbCtl struct {
	first     atomic.Bool
	broken    atomic.Bool
	gate      *recGate
	b2Started chan struct{}
	once      sync.Once
}

func newVerbCtl() *verbCtl {
	v := &verbCtl{gate: newRecGate(3, nil), b2Started: make(chan struct{})}
	v.first.Store(true)
	v.broken.Store(true)
	return v
}

// verbSaga: a, then b, c and d at once, b2 after b, e after b2, c and d.
// d is compensated even if it fails (CompensateIfFailed).
func verbSaga(w *recWorld, v *verbCtl) *saga.Saga[recState] {
	step := func(name string, body func(ctx context.Context) error) func(context.Context, *recState) error {
		return func(ctx context.Context, st *recState) error {
			key := durable.IdempotencyKey(ctx)
			k := w.begin("do "+name, key)
			defer w.end("do "+name, k)
			if body != nil {
				if err := body(ctx); err != nil {
					return err
				}
			}
			_ = w.do(name, key)
			st.Done.Update(func(d []string) []string { return append(d, name) })
			return nil
		}
	}
	undo := func(name string) func(context.Context, *recState) error {
		return func(ctx context.Context, _ *recState) error {
			key := durable.IdempotencyKey(ctx)
			k := w.begin("undo "+name, key)
			defer w.end("undo "+name, k)
			w.undo(name, key)
			return nil
		}
	}
	gated := func(body func(ctx context.Context) error) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			if v.first.Load() {
				v.gate.pass()
			}
			if body != nil {
				return body(ctx)
			}
			return nil
		}
	}
	return saga.New[recState]().Name("verbs").
		Step("a", step("a", nil), undo("a")).
		Step("b", step("b", gated(nil)), undo("b"), saga.After("a")).
		Step("c", step("c", gated(func(ctx context.Context) error {
			if v.first.Load() {
				select {
				case <-v.b2Started:
				case <-time.After(10 * time.Second):
					panic("b2 did not start")
				}
			}
			if v.broken.Load() {
				return fmt.Errorf("c: %w", errVerb)
			}
			return nil
		})), undo("c"), saga.After("a")).
		Step("d", step("d", gated(func(ctx context.Context) error {
			if v.first.Load() {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})), undo("d"), saga.After("a"), saga.CompensateIfFailed()).
		Step("b2", step("b2", func(context.Context) error {
			v.once.Do(func() { close(v.b2Started) })
			return nil
		}), undo("b2"), saga.After("b")).
		Step("e", step("e", nil), undo("e"), saga.After("b2", "c", "d")).
		Build()
}

// pausedVerbRun runs verbSaga with PauseOnFailure until c fails, and
// checks the run paused with b and b2 succeeded, c failed, d cancelled
// and e never started.
func pausedVerbRun(t *testing.T, id string) (*durable.Engine, journal.Store, *recWorld, *verbCtl) {
	t.Helper()
	store := journal.NewMemory()
	e := durable.NewEngine(store, durable.WithOwner("operator"))
	w, v := newRecWorld(), newVerbCtl()
	d, err := durable.Register(e, verbSaga(w, v), durable.PauseOnFailure())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Run(saga.WithRunID(context.Background(), id), &recState{})
	if !errors.Is(err, errVerb) || rep.Status != saga.StatusPaused {
		t.Fatalf("run: %v, %v; want paused at c's failure", rep.Status, err)
	}
	v.first.Store(false)
	view, err := durable.Inspect(context.Background(), store, id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]saga.StepStatus{
		"a": saga.StepSucceeded, "b": saga.StepSucceeded, "b2": saga.StepSucceeded,
		"c": saga.StepFailed, "d": saga.StepCancelled, "e": saga.StepPending,
	}
	for name, status := range want {
		s, _ := rep.Step(name)
		j, ok := view.Report.Step(name)
		if s.Status != status || !ok || j.Status != status { // Inspect lists a step that never started as pending
			t.Errorf("%s: reported %v, journaled %v (%v), want %v", name, s.Status, j.Status, ok, status)
		}
	}
	if view.Run.Status != journal.Paused || view.Entries[len(view.Entries)-1].Kind != journal.RunPaused {
		t.Fatalf("run %s, journal %v; want paused", view.Run.Status, kinds(view.Entries))
	}
	return e, store, w, v
}

// On a paused graph run, RetryStep is refused for a step that succeeded
// or never started, the refusal journaled; Resume runs again only the
// failed, cancelled and never-started steps, and the run succeeds.
func TestGraphPausedRunResume(t *testing.T) {
	ctx := context.Background()
	e, store, w, v := pausedVerbRun(t, "v")
	for _, step := range []string{"a", "b", "b2", "e"} {
		_, err := e.RetryStep(ctx, "v", step, "try "+step)
		if !errors.Is(err, durable.ErrBadRequest) {
			t.Errorf("RetryStep %s: %v, want ErrBadRequest", step, err)
		}
		run, entries, _ := store.Load(ctx, "v")
		last := entries[len(entries)-1]
		if run.Status != journal.Paused || run.Request.Verb != "" || last.Kind != journal.RequestCarriedOut ||
			last.Verb != journal.RetryStep || last.Step != step || !strings.HasPrefix(last.Note, "refused") {
			t.Errorf("RetryStep %s: run %s (request %q), last entry %+v; want paused, the refusal journaled", step, run.Status, run.Request.Verb, last)
		}
	}
	for _, name := range []string{"a", "b", "b2", "c", "d"} {
		if w.n("do "+name) != 1 {
			t.Errorf("%s ran %d times before Resume", name, w.n("do "+name))
		}
	}

	v.broken.Store(false)
	_, entriesBefore, _ := store.Load(ctx, "v")
	rep, err := e.Resume(ctx, "v", "service back")
	if err != nil || rep.Status != saga.StatusSucceeded {
		t.Fatalf("resume: %v, %v", rep.Status, err)
	}
	for name, want := range map[string]int{"a": 1, "b": 1, "b2": 1, "c": 2, "d": 2, "e": 1} {
		if got := w.n("do " + name); got != want {
			t.Errorf("%s ran %d times, want %d", name, got, want)
		}
	}
	for name, key := range map[string]string{"c": "v/c/2", "d": "v/d/2", "e": "v/e/1"} {
		if calls := w.get("do " + name); calls[len(calls)-1].key != key {
			t.Errorf("%s ran again under key %s, want %s", name, calls[len(calls)-1].key, key)
		}
	}
	run, entries, _ := store.Load(ctx, "v")
	if run.Status != journal.Succeeded {
		t.Errorf("run %s", run.Status)
	}
	var again []string
	for _, en := range entries[len(entriesBefore):] {
		if en.Kind == journal.StepStarted {
			again = append(again, en.Step)
		}
	}
	slices.Sort(again)
	if !slices.Equal(again, []string{"c", "d", "e"}) {
		t.Errorf("resume journaled starts of %v, want c, d and e: %v", again, kinds(entries))
	}
	v2, _ := durable.Inspect(ctx, store, "v")
	var st recState
	if err := jsonDecode(v2.State, &st); err != nil {
		t.Fatal(err)
	}
	if done := slices.Sorted(slices.Values(st.Done.Get())); !slices.Equal(done, []string{"a", "b", "b2", "c", "d", "e"}) {
		t.Errorf("final state holds %v", done)
	}
}

// Compensate on a paused graph run undoes the steps that took effect
// (and d, cancelled but compensated if failed), each after its
// dependents, and keeps the run's error.
func TestGraphPausedRunCompensate(t *testing.T) {
	ctx := context.Background()
	e, store, w, _ := pausedVerbRun(t, "v")
	if _, err := e.Compensate(ctx, "v", "give up"); err != nil {
		t.Fatalf("compensate: %v", err)
	}
	run, entries, _ := store.Load(ctx, "v")
	if run.Status != journal.Compensated || !strings.Contains(run.Error, errVerb.Error()) {
		t.Errorf("run %s, error %q; want compensated, c's failure kept", run.Status, run.Error)
	}
	for name, want := range map[string]int{"a": 1, "b": 1, "b2": 1, "d": 1, "c": 0, "e": 0} {
		if got := w.n("undo " + name); got != want {
			t.Errorf("%s compensated %d times, want %d", name, got, want)
		}
	}
	for _, dep := range [][2]string{{"b2", "b"}, {"b", "a"}, {"d", "a"}} { // dep[0] runs after dep[1]
		first, then := w.get("undo "+dep[0]), w.get("undo "+dep[1])
		if len(first) == 1 && len(then) == 1 && first[0].end > then[0].start {
			t.Errorf("%s compensated (from %d) before %s's compensation ended (%d)", dep[1], then[0].start, dep[0], first[0].end)
		}
	}
	seq := map[string]int64{}
	for _, en := range entries {
		switch en.Kind {
		case journal.CompStarted:
			seq["start "+en.Step] = en.Seq
		case journal.CompSucceeded:
			seq["end "+en.Step] = en.Seq
		}
	}
	for _, dep := range [][2]string{{"b2", "b"}, {"b", "a"}, {"d", "a"}} {
		if seq["end "+dep[0]] == 0 || seq["end "+dep[0]] > seq["start "+dep[1]] {
			t.Errorf("journal: %s's compensation started before %s's ended: %v", dep[1], dep[0], kinds(entries))
		}
	}
}

// On a paused graph run, RetryStep is carried out for a step that was
// cancelled by a sibling's failure, not only for the failed step: the
// run stopped there too.
func TestGraphPausedRunRetryCancelledStep(t *testing.T) {
	ctx := context.Background()
	e, store, w, v := pausedVerbRun(t, "v")
	v.broken.Store(false)
	rep, err := e.RetryStep(ctx, "v", "d", "retry d")
	if err != nil || rep.Status != saga.StatusSucceeded {
		t.Fatalf("retry d: %v, %v", rep.Status, err)
	}
	if got := w.n("do d"); got != 2 {
		t.Errorf("d ran %d times, want 2", got)
	}
	run, entries, _ := store.Load(ctx, "v")
	if run.Status != journal.Succeeded {
		t.Errorf("run %s: %v", run.Status, kinds(entries))
	}
}

//go:build unix

package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// The pause scenarios: a crash while an operator's resume of a paused
// run is being carried out.
//
//  1. A first child runs two orders of the saga registered with
//     PauseOnFailure; a step fails because a flag file (the outside world)
//     says it is broken, so both runs pause there. The child exits.
//  2. A second child fixes the cause (removes the flag file), calls
//     Engine.Resume on one of them (resumed), and dies at the planned
//     point while carrying the request out.
//  3. The parent recovers with a clock an hour ahead and checks the
//     resumed run, and that the other run (leftPaused), which no one
//     asked anything of, stays paused and untouched.
//
// The resuming child's writes to the resumed run (its Request and its
// Acquire are not Create or Append, so not counted):
//
//	1 the request carried out, status running
//	2 the broken step started again: execution 2
//	3 the broken step succeeded, the next step started
//	...

// phase is what a child does (see plan.Phase).
type phase string

const (
	pausePhase  phase = "pause"  // run the paused runs to their pause, then exit
	resumePhase phase = "resume" // fix the cause, resume the run, die
)

const (
	resumed     = "pause-1" // the run the operator resumes
	leftPaused  = "pause-2" // the run that stays paused
	resumeNote  = "the cause is fixed"
	resumeOwner = "crash-child/2" // the resuming child's lease owner
)

var errBroken = errors.New("broken by the outside world")

// flag is the file naming the step the outside world breaks.
func (p plan) flag() string { return filepath.Join(p.Dir, "broken") }

// brokenAt is the fault the flag file at path describes: the step it
// names fails, as long as the file is there.
func brokenAt(path string) fault {
	return func(run, step string) error {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(b)) == step {
			return fmt.Errorf("%s: %w", step, errBroken)
		}
		return nil
	}
}

// pauseDef registers the pause scenarios' saga on engine.
func pauseDef(t *testing.T, engine *durable.Engine, p plan, l *ledger, k *killer) *durable.Definition[order] {
	t.Helper()
	def, err := durable.Register(engine, newSaga(l, k, brokenAt(p.flag())), durable.PauseOnFailure(), durable.OnCrash(p.Policy))
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return def
}

// pauseChild is the first child: it runs both orders to their pause and
// exits with code noCrash.
func pauseChild(ctx context.Context, t *testing.T, p plan, store journal.Store, l *ledger) {
	engine := durable.NewEngine(store, durable.WithOwner(childOwner))
	def := pauseDef(t, engine, p, l, nil)
	for _, id := range []string{resumed, leftPaused} {
		rep, err := def.Run(saga.WithRunID(ctx, id), &order{})
		if !errors.Is(err, errBroken) || rep.Status != saga.StatusPaused {
			t.Fatalf("child: %s: status %s, error %v; want paused by %v", id, rep.Status, err, errBroken)
		}
	}
	os.Exit(noCrash)
}

// resumeChild is the second child: the operator fixes the cause and
// resumes the run; the child dies at its plan's point. If it does not,
// it exits with code noCrash.
func resumeChild(ctx context.Context, t *testing.T, p plan, store journal.Store, l *ledger) {
	k := newKiller(p.Kill)
	engine := durable.NewEngine(crashingStore{store, k}, durable.WithOwner(resumeOwner))
	pauseDef(t, engine, p, l, k)
	if err := os.Remove(p.flag()); err != nil {
		t.Fatalf("child: fix: %v", err)
	}
	rep, err := engine.Resume(ctx, resumed, resumeNote)
	if rep != nil {
		fmt.Fprintf(os.Stderr, "child: resume returned without a crash: status %s, error %v\n", rep.Status, err)
	} else {
		fmt.Fprintf(os.Stderr, "child: resume returned without a crash: error %v\n", err)
	}
	os.Exit(noCrash)
}

// pauseScenario is a crash of the resuming child.
type pauseScenario struct {
	name   string
	broken string // the step that fails, then is resumed
	kill   point  // in the resuming child; Run is resumed
	// What the journal shows of the resumed run at the crash: its status,
	// the step started and not ended, and whether the resume request is
	// still pending.
	atCrash journal.Status
	open    string
	pending bool
	// want is the resumed run's final status under each policy.
	want [2]journal.Status // by durable.CrashPolicy
	// again: recovery calls the broken step a second time with the key of its second execution, the one the crash
	// interrupted.
	again bool
	// unknown: the crash lost the outcome of the broken step, which is
	// not idempotent, so recovery pauses the run (PauseOnFailure: the
	// crash policy does not apply) for a person, who asks for it to be
	// compensated, the step whose outcome is unknown included.
	unknown bool
}

func TestCrashDuringResume(t *testing.T) {
	// The saga pauses on failure, so the crash policies do not apply:
	// recovery carries a run on forward when every outcome is known, runs
	// an idempotent step whose outcome is unknown again, and pauses for a
	// person when a step that is not idempotent has an unknown outcome.
	scenarios := []pauseScenario{
		// send_invoice is idempotent, and so is notify_customer after it.
		//
		// Dying before the request is carried out leaves the run paused
		// with the request pending: recovery carries it out as asked,
		// whatever the crash policy, since the run never went on.
		{name: "before_request_done", broken: "send_invoice", kill: point{Where: beforeWrite, N: 1},
			atCrash: journal.Paused, pending: true, want: [2]journal.Status{succeeded, succeeded}},
		{name: "before_step_start", broken: "send_invoice", kill: point{Where: beforeWrite, N: 2},
			atCrash: running, want: [2]journal.Status{succeeded, succeeded}},
		{name: "in_step", broken: "send_invoice", kill: point{Where: inStep, Step: "send_invoice"},
			atCrash: running, open: "send_invoice", want: [2]journal.Status{succeeded, succeeded}, again: true},
		{name: "before_step_end", broken: "send_invoice", kill: point{Where: beforeWrite, N: 3},
			atCrash: running, open: "send_invoice", want: [2]journal.Status{succeeded, succeeded}, again: true},
		{name: "after_step_end", broken: "send_invoice", kill: point{Where: afterWrite, N: 3},
			atCrash: running, open: "notify_customer", want: [2]journal.Status{succeeded, succeeded}},

		// book_courier is not idempotent: once its second execution has
		// started, a crash loses its outcome, and the run pauses.
		{name: "before_request_done", broken: "book_courier", kill: point{Where: beforeWrite, N: 1},
			atCrash: journal.Paused, pending: true, want: [2]journal.Status{succeeded, succeeded}},
		{name: "before_step_start", broken: "book_courier", kill: point{Where: beforeWrite, N: 2},
			atCrash: running, want: [2]journal.Status{succeeded, succeeded}},
		{name: "in_step", broken: "book_courier", kill: point{Where: inStep, Step: "book_courier"},
			atCrash: running, open: "book_courier", want: [2]journal.Status{compensated, compensated}, unknown: true},
		{name: "before_step_end", broken: "book_courier", kill: point{Where: beforeWrite, N: 3},
			atCrash: running, open: "book_courier", want: [2]journal.Status{compensated, compensated}, unknown: true},
		{name: "after_step_end", broken: "book_courier", kill: point{Where: afterWrite, N: 3},
			atCrash: running, open: "send_invoice", want: [2]journal.Status{succeeded, succeeded}},
	}
	forEachStore(t, func(t *testing.T, kind string) {
		for _, sc := range scenarios {
			sc.kill.Run = resumed
			for _, policy := range []durable.CrashPolicy{durable.ResumeAfterCrash, durable.CompensateAfterCrash} {
				t.Run(fmt.Sprintf("%s/%s/%s", sc.broken, sc.name, policyName(policy)), func(t *testing.T) {
					t.Parallel()
					crashDuringResume(t, kind, policy, sc)
				})
			}
		}
	})
}

// crashDuringResume runs the two children of sc on a new journal of
// kind, recovers, and checks both runs.
func crashDuringResume(t *testing.T, kind string, policy durable.CrashPolicy, sc pauseScenario) {
	dir := t.TempDir()
	p := plan{Dir: dir, Store: newFleetStore(t, kind, dir), Policy: policy, Phase: pausePhase}
	if err := os.WriteFile(p.flag(), []byte(sc.broken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runChildToEnd(t, p)
	p.Phase, p.Kill = resumePhase, sc.kill
	runChild(t, p)
	if _, err := os.Stat(p.flag()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the resuming child did not fix the cause: %v", err)
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

	inspect := func(id string) *durable.View {
		t.Helper()
		v, err := durable.Inspect(ctx, store, id)
		if err != nil {
			t.Fatalf("inspect %s: %v", id, err)
		}
		return v
	}
	pre, preLeft := inspect(resumed), inspect(leftPaused)
	engine := durable.NewEngine(store, durable.WithOwner("crash-recovery"))
	pauseDef(t, engine, p, l, nil)
	for range 3 {
		n, err := engine.Recover(ctx, 4)
		if err != nil {
			t.Fatalf("recover: %v", err)
		}
		if n == 0 {
			break
		}
	}
	if sc.unknown {
		// Recovery paused the run; a person checks and compensates it.
		mid := inspect(resumed)
		if mid.Run.Status != journal.Paused || !strings.Contains(mid.Run.Error, durable.ErrOutcomeUnknown.Error()) ||
			!strings.Contains(mid.Run.Error, sc.broken) || l.of(resumed, sc.broken).undos != 0 {
			t.Fatalf("%s: want paused by recovery, outcome of %s unknown, nothing undone:\n%s", resumed, sc.broken, dump(mid))
		}
		if _, err := engine.Compensate(ctx, resumed, checkedNote); err != nil {
			t.Fatalf("compensate after the pause: %v", err)
		}
	}
	post, postLeft := inspect(resumed), inspect(leftPaused)
	checkResumed(t, policy, sc, pre, post, l)
	checkLeftPaused(t, sc.broken, preLeft, postLeft, l)
}

// stepIndex returns step's position in steps.
func stepIndex(step string) int {
	for i, s := range steps {
		if s.name == step {
			return i
		}
	}
	panic("crashtest: unknown step " + step)
}

// key is the idempotency key of a step's execution.
func key(run, step string, execution int) string {
	return fmt.Sprintf("%s/%s/%d", run, step, execution)
}

// execution returns the execution a step's calls and starts must carry:
// the broken step's first execution failed, every later one is its
// second; every other step has one execution.
func execution(step, broken string, call int) int {
	if step == broken && call > 0 {
		return 2
	}
	return 1
}

// checkResumed checks the resumed run after recovery, against its journal
// at the crash and the ledger.
func checkResumed(t *testing.T, policy durable.CrashPolicy, sc pauseScenario, pre, post *durable.View, l *ledger) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s (broken %s, policy %s): %s\njournal at the crash:\n%s\njournal after recovery:\n%s",
			resumed, sc.broken, policyName(policy), fmt.Sprintf(format, args...), dump(pre), dump(post))
	}

	// At the crash.
	if pre.Run.Status != sc.atCrash {
		fail("status %s at the crash, want %s", pre.Run.Status, sc.atCrash)
	}
	if open := progressOf(pre.Entries).open; open != sc.open {
		fail("step %q open at the crash, want %q", open, sc.open)
	}
	if pending := pre.Run.Request.Verb == journal.Resume; pending != sc.pending {
		fail("resume request pending at the crash: %t, want %t (request %+v)", pending, sc.pending, pre.Run.Request)
	}
	if !slices.ContainsFunc(pre.Entries, func(e journal.Entry) bool { return e.Kind == journal.RunPaused }) {
		fail("the journal does not show the run paused")
	}

	// After recovery: the run.
	want := sc.want[policy]
	if post.Run.Status != want {
		fail("status %s, want %s", post.Run.Status, want)
		return
	}
	if post.Run.Ended.IsZero() {
		fail("ended without an end time")
	}
	if (post.Run.Error == "") != (want == succeeded) {
		fail("%s with error %q", want, post.Run.Error)
	}
	if post.Run.Request.Verb != "" {
		fail("request %+v still pending", post.Run.Request)
	}
	var made, done int
	for _, e := range post.Entries {
		switch {
		case e.Kind == journal.RequestMade && e.Verb == journal.Resume && e.Note == resumeNote,
			e.Kind == journal.RequestMade && e.Verb == journal.Compensate && sc.unknown && e.Note == checkedNote:
			made++
		case e.Kind == journal.RequestMade:
			fail("unexpected request %s %q", e.Verb, e.Note)
		case e.Kind == journal.RequestCarriedOut && (e.Verb == journal.Resume || sc.unknown && e.Verb == journal.Compensate):
			done++
		case e.Kind == journal.RequestCarriedOut:
			fail("unexpected request carried out: %s %q", e.Verb, e.Note)
		}
	}
	if want := 1 + btoi(sc.unknown); made != want || done != want {
		fail("the requests were made %d times and carried out %d times, want %d each", made, done, want)
	}

	// After recovery: each step's executions in the journal. A step is
	// compensated only if its latest execution started and did not fail.
	p := progressOf(post.Entries)
	starts := map[string][]int{} // the execution numbers of each step's starts
	lastFailed := map[string]bool{}
	for _, e := range post.Entries {
		switch e.Kind {
		case journal.StepStarted:
			if w := execution(e.Step, sc.broken, len(starts[e.Step])); e.Attempt != w {
				fail("%s started as execution %d, want %d", e.Step, e.Attempt, w)
			}
			starts[e.Step] = append(starts[e.Step], e.Attempt)
			lastFailed[e.Step] = false
		case journal.StepFailed:
			lastFailed[e.Step] = true
		case journal.CompStarted:
			if len(starts[e.Step]) == 0 {
				fail("%s compensated, but it never started", e.Step)
			} else if lastFailed[e.Step] {
				fail("%s compensated, but its latest execution failed without effect", e.Step)
			}
		}
	}

	// After recovery: each step's effects in the ledger.
	var st order
	if want == succeeded {
		if err := json.Unmarshal(post.State, &st); err != nil {
			fail("state: %v", err)
		}
	}
	for i, s := range steps {
		e := l.of(resumed, s.name)
		for c, k := range e.calls {
			if w := key(resumed, s.name, execution(s.name, sc.broken, c)); k != w {
				fail("%s's call %d had idempotency key %q, want %q", s.name, c+1, k, w)
			}
		}
		switch {
		case e.dos > 1:
			fail("%s took effect %d times", s.name, e.dos)
		case e.dos == 1 && !p.started[s.name]:
			fail("%s took effect, but the journal does not know it started", s.name)
		case e.undos > e.dos:
			fail("%s undone %d times, done %d", s.name, e.undos, e.dos)
		case s.name == sc.broken && e.dos > 0 && len(e.calls) < 2:
			fail("%s took effect in its failed execution", s.name)
		case i < stepIndex(sc.broken) && len(e.calls) != 1:
			fail("%s, before the broken step, was called %d times, want once", s.name, len(e.calls))
		}
		if s.name == sc.broken && sc.again {
			if n := len(e.calls) - 1; n != 2 || e.dos != 1 {
				fail("%s: %d calls of its second execution and %d effects, want 2 calls (one again after the crash) and 1 effect", s.name, n, e.dos)
			}
		}
		switch want {
		case succeeded:
			if e.dos != 1 || e.undos != 0 || !p.succeeded[s.name] || p.compensated[s.name] {
				fail("succeeded, but %s was done %d times, undone %d (journal: succeeded %t, compensated %t)",
					s.name, e.dos, e.undos, p.succeeded[s.name], p.compensated[s.name])
			}
			if w := key(resumed, s.name, execution(s.name, sc.broken, 1)); st.Refs[s.name] != w {
				fail("succeeded, but the state keeps %q for %s, want %q", st.Refs[s.name], s.name, w)
			}
		case compensated:
			if e.undos != e.dos {
				fail("compensated, but %s was done %d times, undone %d", s.name, e.dos, e.undos)
			}
			if p.started[s.name] && !lastFailed[s.name] && !p.compensated[s.name] {
				fail("compensated, but %s started and was not compensated", s.name)
			}
		}
	}
}

// checkedNote is the note of the person who compensates a run recovery
// paused.
const checkedNote = "checked the courier: a booking may exist, undo it"

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkLeftPaused checks that recovery left alone the paused run no one
// asked anything of.
func checkLeftPaused(t *testing.T, broken string, pre, post *durable.View, l *ledger) {
	t.Helper()
	if pre.Run.Status != journal.Paused || post.Run.Status != journal.Paused || len(post.Entries) != len(pre.Entries) {
		t.Errorf("%s: paused without a request, but recovery moved it:\njournal at the crash:\n%s\njournal after recovery:\n%s",
			leftPaused, dump(pre), dump(post))
	}
	for i, s := range steps {
		e := l.of(leftPaused, s.name)
		var want effects
		switch {
		case i < stepIndex(broken):
			want = effects{calls: []string{key(leftPaused, s.name, 1)}, dos: 1}
		case s.name == broken:
			want = effects{calls: []string{key(leftPaused, s.name, 1)}}
		}
		if !slices.Equal(e.calls, want.calls) || e.dos != want.dos || e.undos != want.undos {
			t.Errorf("%s: %s has calls %q, %d effects, %d undone; want calls %q, %d effects, %d undone",
				leftPaused, s.name, e.calls, e.dos, e.undos, want.calls, want.dos, want.undos)
		}
	}
}

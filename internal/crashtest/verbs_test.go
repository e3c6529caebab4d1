//go:build unix

package crashtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
)

// Operator verbs fired from two processes at once on the same runs,
// while a worker drives live runs and runs Engine.Work:
//
//  1. The parent runs the paused runs to their pause: their ship step
//     fails because the flag file lists it (PauseOnFailure). It fixes the
//     cause of some of them.
//  2. Two operator processes register the saga and wait at a barrier (a
//     file); a worker process starts the live runs (slow steps) and
//     Engine.Work.
//  3. The parent opens the barrier: the operators fire their verbs, each
//     in a goroutine of its own, against each other (and against the
//     worker, on the live runs), then exit.
//  4. The parent waits until every run is settled (not unfinished, no
//     request pending), stops the worker with SIGTERM, and checks.
//
// What must hold: every run ends in one final or person-needed status,
// consistent with the outside world; no step (or compensation) of a run
// ran twice at once; a verb either did what it asked or failed, and a
// request that lost the race was refused ("refused: " entry) or never
// recorded (journal.ErrFinal, durable.ErrBusy, journal.ErrPending: a run
// holds one pending request at a time), or, recorded while another
// process drove the run (journal.ErrLeaseLost), was carried out or
// refused later; nothing was carried out on a run that had ended.

const (
	verbWorker = "verb-worker"
	operator1  = "operator-1"
	operator2  = "operator-2"
	verbTTL    = 2 * time.Second
)

// verbCall is an operator's verb on a run. Note is unique: it tells the
// call's request in the journal.
type verbCall struct {
	Run  string
	Verb journal.Verb
	Step string // for RetryStep
	Note string
}

// vsteps are the verb saga's steps: ship is not idempotent, and it is
// where the paused runs are broken.
var vsteps = []struct {
	name       string
	idempotent bool
}{
	{"reserve", true},
	{"charge", true},
	{"ship", false},
	{"notify", true},
}

var (
	pausedRuns = []string{"p1", "p2", "p3", "p4", "p5", "p6"}
	stillBroke = []string{"p5", "p6"} // not fixed before the verbs
	liveRuns   = []string{"l1", "l2", "l3"}
)

// verbPlan is what each operator fires, all at once.
var verbPlan = map[string][]verbCall{
	operator1: {
		{Run: "p1", Verb: journal.Resume},
		{Run: "p2", Verb: journal.Abandon},
		{Run: "p3", Verb: journal.RetryStep, Step: "ship"},
		{Run: "p4", Verb: journal.Compensate},
		{Run: "p5", Verb: journal.Resume},
		{Run: "p6", Verb: journal.Resume},
		{Run: "p6", Verb: journal.Abandon}, // the same engine: one of the two may find it busy
		{Run: "l1", Verb: journal.Compensate},
		{Run: "l2", Verb: journal.Resume},
		{Run: "l3", Verb: journal.Abandon},
	},
	operator2: {
		{Run: "p1", Verb: journal.Compensate},
		{Run: "p2", Verb: journal.Resume},
		{Run: "p3", Verb: journal.RetryStep, Step: "ship"},
		{Run: "p4", Verb: journal.Abandon},
		{Run: "p4", Verb: journal.Resolve},
		{Run: "p5", Verb: journal.Compensate},
		{Run: "p6", Verb: journal.RetryStep, Step: "charge"}, // not where it stopped
		{Run: "l1", Verb: journal.Abandon},
		{Run: "l2", Verb: journal.RetryStep, Step: "ship"},
		{Run: "l3", Verb: journal.Compensate},
	},
}

// vorder is the verb saga's state.
type vorder struct {
	Refs map[string]string
}

// brokenRuns is the fault the flag file at path describes: a line "run
// step" fails that step of that run, as long as it is there.
func brokenRuns(path string) func(run, step string) error {
	return func(run, step string) error {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if sc.Text() == run+" "+step {
				return fmt.Errorf("%s: %w", step, errBroken)
			}
		}
		return sc.Err()
	}
}

func writeBroken(t *testing.T, path string, runs []string) {
	t.Helper()
	var b strings.Builder
	for _, r := range runs {
		b.WriteString(r + " ship\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// verbSaga builds the verb saga for the process of plan p: each step and
// compensation tells the participant when it begins and ends (so that two
// at once are noticed) and takes p.Step.
func verbSaga(p fleetPlan, part *participant) *saga.Saga[vorder] {
	fault := brokenRuns(p.broken())
	token := tokens(p.Owner)
	wait := func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(p.Step):
			return nil
		}
	}
	b := saga.New[vorder]().Name("verb_order")
	for _, s := range vsteps {
		act := func(ctx context.Context, o *vorder) (err error) {
			run, key := saga.RunID(ctx), durable.IdempotencyKey(ctx)
			tok := token(key)
			if err := part.begin(run, s.name, tok); err != nil {
				return err
			}
			defer func() { err = errors.Join(err, part.end(tok)) }()
			if err := wait(ctx); err != nil {
				return err
			}
			if err := fault(run, s.name); err != nil {
				return err
			}
			out, err := part.do(ctx, run, s.name, key)
			if err != nil {
				return err
			}
			if out == outRefused {
				return fmt.Errorf("%s: %w", s.name, errRefused)
			}
			if o.Refs == nil {
				o.Refs = map[string]string{}
			}
			o.Refs[s.name] = key
			return nil
		}
		comp := func(ctx context.Context, o *vorder) (err error) {
			run := saga.RunID(ctx)
			tok := token(run + "/" + s.name + " undo")
			if err := part.begin(run, s.name, tok); err != nil {
				return err
			}
			defer func() { err = errors.Join(err, part.end(tok)) }()
			if err := wait(ctx); err != nil {
				return err
			}
			_, err = part.undo(ctx, run, s.name)
			delete(o.Refs, s.name)
			return err
		}
		var opts []saga.StepOption
		if s.idempotent {
			opts = append(opts, saga.Idempotent())
		}
		b.Step(s.name, act, comp, opts...)
	}
	return b.Build()
}

func registerVerbSaga(t *testing.T, engine *durable.Engine, p fleetPlan, part *participant) *durable.Definition[vorder] {
	t.Helper()
	def, err := durable.Register(engine, verbSaga(p, part), durable.PauseOnFailure())
	if err != nil {
		t.Fatalf("%s: register: %v", p.Owner, err)
	}
	return def
}

// verbClass names the outcome of a verb.
func verbClass(err error) string {
	var se *saga.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, durable.ErrBusy):
		return "busy"
	case errors.Is(err, journal.ErrPending):
		return "pending"
	case errors.Is(err, journal.ErrStale):
		return "stale"
	case errors.Is(err, journal.ErrFinal):
		return "final"
	case errors.Is(err, journal.ErrLeaseLost):
		return "lease_lost"
	case errors.Is(err, durable.ErrBadRequest):
		return "bad_request"
	case errors.Is(err, durable.ErrPastPivot):
		return "past_pivot"
	case errors.As(err, &se):
		return "run_error" // carried out; the run stopped again
	}
	return "other"
}

// verbWorkerChild starts the live runs and works until SIGTERM.
func verbWorkerChild(ctx context.Context, t *testing.T, p fleetPlan, store journal.Store, part *participant, ev *eventLog) {
	engine := durable.NewEngine(store, durable.WithOwner(p.Owner), durable.WithLeaseTTL(p.TTL))
	def := registerVerbSaga(t, engine, p, part)
	wctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	var wg sync.WaitGroup
	for _, id := range p.Runs {
		wg.Go(func() {
			rep, err := def.Run(saga.WithRunID(ctx, id), &vorder{})
			ev.add(event{Ev: "run", Run: id, Note: string(rep.Status), Err: errString(err), Class: verbClass(err)})
		})
	}
	err := engine.Work(wctx, 50*time.Millisecond)
	wg.Wait()
	ev.add(event{Ev: "stopped", Err: errString(err)})
}

// operatorChild waits at the barrier, then fires its verbs at once.
func operatorChild(ctx context.Context, t *testing.T, p fleetPlan, store journal.Store, part *participant, ev *eventLog) {
	engine := durable.NewEngine(store, durable.WithOwner(p.Owner), durable.WithLeaseTTL(p.TTL))
	registerVerbSaga(t, engine, p, part)
	ev.add(event{Ev: "ready"})
	for {
		if _, err := os.Stat(p.barrier()); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	for _, c := range p.Calls {
		wg.Go(func() {
			t0 := time.Now().UnixNano()
			var err error
			switch c.Verb {
			case journal.Resume:
				_, err = engine.Resume(ctx, c.Run, c.Note)
			case journal.RetryStep:
				_, err = engine.RetryStep(ctx, c.Run, c.Step, c.Note)
			case journal.Compensate:
				_, err = engine.Compensate(ctx, c.Run, c.Note)
			case journal.Abandon:
				err = engine.Abandon(ctx, c.Run, c.Note)
			case journal.Resolve:
				err = engine.Resolve(ctx, c.Run, c.Note)
			}
			ev.add(event{Ev: "verb", T0: t0, Run: c.Run, What: string(c.Verb), Step: c.Step, Note: c.Note,
				Err: errString(err), Class: verbClass(err)})
		})
	}
	wg.Wait()
}

func TestConcurrentVerbs(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	p := fleetPlan{Dir: t.TempDir(), TTL: verbTTL}
	is.NoErr(createParticipant(p.participant()))
	store, err := sqlite.Open(ctx, p.journal())
	is.NoErr(err)
	t.Cleanup(func() { store.Close() })

	// 1. The paused runs.
	writeBroken(t, p.broken(), pausedRuns)
	setup := p
	setup.Owner = "setup"
	part, err := openParticipant(p.participant(), setup.Owner)
	is.NoErr(err)
	defer part.Close()
	engine := durable.NewEngine(store, durable.WithOwner(setup.Owner), durable.WithLeaseTTL(p.TTL))
	def := registerVerbSaga(t, engine, setup, part)
	var wg sync.WaitGroup
	for _, id := range pausedRuns {
		wg.Go(func() {
			rep, err := def.Run(saga.WithRunID(ctx, id), &vorder{})
			if !errors.Is(err, errBroken) || rep.Status != saga.StatusPaused {
				t.Errorf("%s: status %s, error %v; want paused by %v", id, rep.Status, err, errBroken)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	writeBroken(t, p.broken(), stillBroke)

	// 2. The operators, then the worker and its live runs.
	var ops []*proc
	for _, owner := range []string{operator1, operator2} {
		op := p
		op.Role, op.Owner, op.Step = operatorRole, owner, 40*time.Millisecond
		for k, c := range verbPlan[owner] {
			c.Note = fmt.Sprintf("%s: %s %s #%d", owner, c.Verb, c.Run, k)
			op.Calls = append(op.Calls, c)
		}
		ops = append(ops, startFleet(t, op))
	}
	ready := func(owner string) bool {
		return slices.ContainsFunc(readEvents(t, eventsPath(p.Dir, owner)), func(e event) bool { return e.Ev == "ready" })
	}
	if !waitFor(t, 60*time.Second, func() bool { return ready(operator1) && ready(operator2) }, ops...) {
		t.Fatal("the operators did not get ready")
	}
	wp := p
	wp.Role, wp.Owner, wp.Step, wp.Runs = verbWorkerRole, verbWorker, 300*time.Millisecond, liveRuns
	worker := startFleet(t, wp)
	if !waitFor(t, 60*time.Second, func() bool {
		for _, id := range liveRuns {
			if _, _, err := store.Load(ctx, id); err != nil {
				return false
			}
		}
		return true
	}, worker) {
		t.Fatal("the worker did not start the live runs")
	}

	// 3. The verbs, all at once.
	is.NoErr(os.WriteFile(p.barrier(), nil, 0o600))
	for _, op := range ops {
		op.wait(t, 60*time.Second)
	}

	// 4. The worker carries out what is left, then stops.
	all := append(slices.Clone(pausedRuns), liveRuns...)
	settled := waitFor(t, 30*time.Second, func() bool {
		for _, run := range loadAll(ctx, t, store, all) {
			if run.Status.Unfinished() || run.Request.Verb != "" {
				return false
			}
		}
		return true
	}, worker)
	worker.signal(t, syscall.SIGTERM)
	worker.wait(t, 30*time.Second)

	var verbs []event
	writers := map[int64]string{}
	for _, owner := range []string{operator1, operator2, verbWorker} {
		for _, e := range readEvents(t, eventsPath(p.Dir, owner)) {
			switch e.Ev {
			case "verb":
				verbs = append(verbs, e)
			case "write":
				for _, r := range e.Entries {
					writers[r.At] = owner
				}
			}
		}
	}
	views := map[string]*durable.View{}
	dumps := map[string]string{}
	for _, id := range all {
		v, err := durable.Inspect(ctx, store, id)
		is.NoErr(err)
		views[id] = v
		dumps[id] = dumpEntries(v.Run, v.Entries, writers)
	}
	if !settled {
		for _, id := range all {
			t.Logf("%s:\n%s", id, dumps[id])
		}
		t.Fatal("the runs did not settle")
	}
	checkVerbRuns(t, all, views, dumps)
	checkVerbWorld(t, part, views, dumps)
	checkVerbRequests(t, verbs, views, dumps)
	for _, e := range readEvents(t, eventsPath(p.Dir, verbWorker)) {
		if e.Ev == "run" && e.Err != "" {
			t.Errorf("the worker's live run %s: %s", e.Run, e.Err)
		}
	}
}

// checkVerbRuns checks that every run is settled in one final or
// person-needed status, that the live runs (which the worker held from
// start to end) succeeded, and that nothing follows a final end but
// refusals.
func checkVerbRuns(t *testing.T, all []string, views map[string]*durable.View, dumps map[string]string) {
	t.Helper()
	for _, id := range all {
		v := views[id]
		if v.Run.Status.Unfinished() || v.Run.Request.Verb != "" {
			t.Errorf("%s: not settled:\n%s", id, dumps[id])
		}
		if slices.Contains(liveRuns, id) && v.Run.Status != journal.Succeeded {
			t.Errorf("%s: live run %s, want succeeded: its worker held it throughout:\n%s", id, v.Run.Status, dumps[id])
		}
		ended := false
		for _, e := range v.Entries {
			switch {
			case e.Kind == journal.RunEnded && e.Status.Final():
				if ended {
					t.Errorf("%s: ended twice:\n%s", id, dumps[id])
				}
				ended = true
			case ended && !(e.Kind == journal.RequestCarriedOut && strings.HasPrefix(e.Note, "refused: ")):
				t.Errorf("%s: entry %d (%s %s) after the run ended:\n%s", id, e.Seq, e.Kind, e.Note, dumps[id])
			}
		}
		if ended != v.Run.Status.Final() {
			t.Errorf("%s: status %s, but the journal's end says otherwise:\n%s", id, v.Run.Status, dumps[id])
		}
	}
}

// checkVerbWorld checks the outside world against the journal: a step
// whose latest word in the journal is its success has one effect
// standing; any other has none; no step took effect twice; and no step or
// compensation of a run ran twice at once.
func checkVerbWorld(t *testing.T, part *participant, views map[string]*durable.View, dumps map[string]string) {
	t.Helper()
	effects, err := part.effects()
	if err != nil {
		t.Fatal(err)
	}
	for id, v := range views {
		stands, unknown := map[string]bool{}, map[string]bool{}
		for _, e := range v.Entries {
			switch e.Kind {
			case journal.StepStarted, journal.StepFailed, journal.CompSucceeded:
				stands[e.Step] = false
			case journal.StepSucceeded:
				stands[e.Step] = true
			case journal.CompFailed:
				unknown[e.Step] = true
			}
		}
		for _, s := range vsteps {
			es := effects[runStep{id, s.name}]
			live := 0
			for _, e := range es {
				if e.undoneAt == 0 {
					live++
				}
			}
			switch {
			case len(es) > 1:
				t.Errorf("%s: %s took effect %d times:\n%s", id, s.name, len(es), dumps[id])
			case unknown[s.name]:
			case stands[s.name] && live != 1, !stands[s.name] && live != 0:
				t.Errorf("%s (%s): %s has %d effects standing, the journal says it stands: %t:\n%s",
					id, v.Run.Status, s.name, live, stands[s.name], dumps[id])
			}
		}
	}
	overlaps, err := part.overlaps()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range overlaps {
		t.Errorf("two executions at once: %s", o)
	}
}

// requestFate is what became of a recorded request. overlapped: another
// request on the run was made while it was open (made and not answered),
// which the journal, holding one pending request per run, must refuse.
type requestFate struct {
	made, carried, refused int
	overlapped             bool
}

// requestFates pairs each run's recorded requests (by note, which is
// unique) with what became of them: carried out (an entry with the same
// note), or refused (a "refused: " entry, which keeps the verb and step
// but not the note: it answers the newest earlier request of that verb
// and step not answered yet).
func requestFates(t *testing.T, views map[string]*durable.View, dumps map[string]string) map[string]*requestFate {
	t.Helper()
	fates := map[string]*requestFate{}
	for id, v := range views {
		var open []journal.Entry // requests made and not answered, oldest first
		for _, e := range v.Entries {
			switch e.Kind {
			case journal.RequestMade:
				f := &requestFate{made: 1}
				fates[e.Note] = f
				for _, o := range open {
					fates[o.Note].overlapped, f.overlapped = true, true
				}
				open = append(open, e)
			case journal.RequestCarriedOut:
				k := -1
				if strings.HasPrefix(e.Note, "refused: ") {
					for j := len(open) - 1; j >= 0 && k < 0; j-- {
						if open[j].Verb == e.Verb && open[j].Step == e.Step {
							k = j
						}
					}
				} else {
					k = slices.IndexFunc(open, func(o journal.Entry) bool { return o.Note == e.Note })
				}
				if k < 0 {
					t.Errorf("%s: entry %d answers no open request:\n%s", id, e.Seq, dumps[id])
					continue
				}
				if strings.HasPrefix(e.Note, "refused: ") {
					fates[open[k].Note].refused++
				} else {
					fates[open[k].Note].carried++
				}
				open = slices.Delete(open, k, k+1)
			}
		}
	}
	return fates
}

// checkVerbRequests checks each verb against the journal: a verb that
// returned nil had its request carried out; one that failed with ErrFinal,
// ErrBusy or ErrPending recorded nothing (or, for ErrFinal, was refused);
// one that found the run driven elsewhere (ErrLeaseLost) left its request
// recorded, and it was carried out or refused later; every request
// recorded was answered once, and no two were open at once.
func checkVerbRequests(t *testing.T, verbs []event, views map[string]*durable.View, dumps map[string]string) {
	t.Helper()
	fates := requestFates(t, views, dumps)
	classes := map[string]int{}
	for _, e := range verbs {
		classes[e.Class]++
		f := fates[e.Note]
		if f == nil {
			f = &requestFate{}
		}
		fail := func(want string) {
			t.Errorf("%s %s on %s returned %q; %s, but its request was made %d times, carried out %d, refused %d:\n%s",
				e.Note, e.What, e.Run, e.Err, want, f.made, f.carried, f.refused, dumps[e.Run])
		}
		answered := f.carried+f.refused == 1
		switch e.Class {
		case "":
			if f.made != 1 || f.carried != 1 || f.refused != 0 {
				fail("it did what it asked")
			}
		case "busy", "pending", "stale":
			if f.made != 0 {
				fail("nothing was recorded")
			}
		case "bad_request":
			// Refused before it was recorded (a resume that names no
			// entry, of a run paused on an unknown outcome), or recorded
			// and refused once.
			if f.made != 0 && !answered || f.made == 0 && !strings.Contains(e.Err, "name the journal entry") {
				fail("its request was refused before it was recorded, or recorded and answered once")
			}
		case "final":
			if f.made != 0 && !(f.refused == 1 && f.carried == 0) {
				fail("the run had ended, so it was not recorded or was refused")
			}
		case "lease_lost", "past_pivot", "run_error":
			if f.made != 1 || !answered {
				fail("its request was recorded and answered once")
			}
		default:
			t.Errorf("%s %s on %s: unexpected error %q", e.Note, e.What, e.Run, e.Err)
		}
	}
	for note, f := range fates {
		switch {
		case f.overlapped:
			t.Errorf("request %q was open while another was made on the same run", note)
		case f.carried+f.refused > 1:
			t.Errorf("request %q carried out %d times, refused %d", note, f.carried, f.refused)
		case f.carried+f.refused == 0:
			t.Errorf("request %q neither carried out nor refused", note)
		}
	}
	t.Logf("verb outcomes: %v", classes)
}

//go:build unix

package crashtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
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

// The zombie window: a worker frozen (SIGSTOP) longer than its lease, in
// the middle of its steps, while another worker takes its runs over, then
// thawed (SIGCONT). What a step author can rely on in that window:
//
//   - the frozen worker writes nothing to the journal once its lease has
//     expired (the store checks the lease in the same transaction), and
//     no journal entry of the run comes from it after the takeover;
//   - once thawed, its steps' contexts end with journal.ErrLeaseLost (the
//     heartbeat finds the lease past its end), and steps that watch their
//     context make no effect;
//   - a step that does not watch its context (a call already on its way
//     to the outside world when the process froze) makes its effect late:
//     the participant takes it once per idempotency key (the taker re-ran
//     the step under the same key), or refuses it by the tombstone the
//     taker's compensation left.
//
// Worker 1 (zombieRole) runs every zrun at once; each run reaches a part
// of a step or compensation that is slow in worker 1 only. The parent
// freezes worker 1 outside any transaction, waits until worker 2
// (takerRole, Engine.Work) has taken over and finished every run, and at
// least zombieStop, then thaws worker 1 and lets it finish what it was
// doing.

const (
	zombieOwner = "worker-1"
	takerOwner  = "worker-2"
	zombieTTL   = time.Second
	// zombieStop is the least time worker 1 stays frozen: its leases
	// expire a TTL after their last renewal at the latest.
	zombieStop = 5 * zombieTTL / 2
)

// zorder is the zombie saga's state. The journal carries each run's plan
// to whichever worker drives it; only worker 1 is slow.
type zorder struct {
	Slow     string // the step whose action is slow in worker 1
	SlowComp string // the step whose compensation is slow in worker 1
	Blind    bool   // the slow part does not watch its context
	FailAt   string // the step that fails, "" for none
	Refs     map[string]string
}

// zsteps are the zombie saga's steps; book is not idempotent: a run whose
// book has an unknown outcome is compensated, never run again.
var zsteps = []struct {
	name       string
	idempotent bool
}{
	{"reserve", true},
	{"book", false},
	{"invoice", true},
}

// zrun is a run of worker 1's and how it must end.
type zrun struct {
	id   string
	o    zorder
	want journal.Status
}

// slowStep is the step whose action or compensation is slow in worker 1.
func (r zrun) slowStep() string { return r.o.Slow + r.o.SlowComp }

var zruns = []zrun{
	{"z-reserve-aware", zorder{Slow: "reserve"}, journal.Succeeded},
	{"z-reserve-blind", zorder{Slow: "reserve", Blind: true}, journal.Succeeded},
	{"z-book-aware", zorder{Slow: "book"}, journal.Compensated},
	{"z-book-blind", zorder{Slow: "book", Blind: true}, journal.Compensated},
	{"z-undo-aware", zorder{SlowComp: "book", FailAt: "invoice"}, journal.Compensated},
	{"z-undo-blind", zorder{SlowComp: "book", FailAt: "invoice", Blind: true}, journal.Compensated},
}

func zrunIDs() []string {
	var ids []string
	for _, r := range zruns {
		ids = append(ids, r.id)
	}
	return ids
}

var errRefused = errors.New("refused by the participant: the step was compensated")

// zombieSaga builds the zombie saga for the process of plan p.
// In worker 1, thawed is closed once the process was thawed after a stop
// longer than its lease; nil elsewhere.
func zombieSaga(p fleetPlan, part *participant, ev *eventLog, thawed <-chan struct{}) *saga.Saga[zorder] {
	slow := p.Role == zombieRole
	token := tokens(p.Owner)
	b := saga.New[zorder]().Name("zombie_order")
	for _, s := range zsteps {
		act := func(ctx context.Context, o *zorder) (err error) {
			run, key := saga.RunID(ctx), durable.IdempotencyKey(ctx)
			if o.FailAt == s.name {
				return fmt.Errorf("%s: %w", s.name, errPlanned)
			}
			tok := token(key)
			if err := part.begin(run, s.name, tok); err != nil {
				return err
			}
			defer func() { err = errors.Join(err, part.end(tok)) }()
			if slow && o.Slow == s.name {
				if err := slowPart(ctx, ev, thawed, run, s.name, "action", o.Blind); err != nil {
					return err
				}
			}
			out, err := part.do(ctx, run, s.name, key)
			ev.add(event{Ev: "effect", Run: run, Step: s.name, What: "action", Note: out, Err: errString(err)})
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
		comp := func(ctx context.Context, o *zorder) (err error) {
			run := saga.RunID(ctx)
			tok := token(run + "/" + s.name + " undo")
			if err := part.begin(run, s.name, tok); err != nil {
				return err
			}
			defer func() { err = errors.Join(err, part.end(tok)) }()
			if slow && o.SlowComp == s.name {
				if err := slowPart(ctx, ev, thawed, run, s.name, "compensation", o.Blind); err != nil {
					return err
				}
			}
			out, err := part.undo(ctx, run, s.name)
			ev.add(event{Ev: "effect", Run: run, Step: s.name, What: "compensation", Note: out, Err: errString(err)})
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

// slowPart is worker 1's slow part of a step's action or compensation. It
// logs that the run reached it and, whenever the step's context ends,
// when and why. An aware part waits for its context; a blind one, a call
// on its way to the outside world when the process froze, waits for the
// thaw whatever its context says, then lets its call go.
func slowPart(ctx context.Context, ev *eventLog, thawed <-chan struct{}, run, step, what string, blind bool) error {
	ev.add(event{Ev: "slow", Run: run, Step: step, What: what})
	context.AfterFunc(ctx, func() {
		ev.add(event{Ev: "ctx_done", Run: run, Step: step, What: what, Err: errString(context.Cause(ctx))})
	})
	if blind {
		<-thawed
		return nil
	}
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(time.Minute):
		return nil
	}
}

// watchThaw logs when the process is continued after a stop: the SIGCONT
// it receives, and the jump of the clock its goroutines see. The channel
// it returns is closed at the first jump longer than ttl.
func watchThaw(ev *eventLog, ttl time.Duration) <-chan struct{} {
	thawed := make(chan struct{})
	var once sync.Once
	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGCONT)
	go func() {
		for range c {
			ev.add(event{Ev: "sigcont"})
		}
	}()
	go func() {
		last := time.Now()
		for {
			time.Sleep(5 * time.Millisecond)
			now := time.Now()
			if gap := now.Sub(last); gap > 100*time.Millisecond {
				ev.add(event{Ev: "jump", Gap: int64(gap)})
				if gap > ttl {
					once.Do(func() { close(thawed) })
				}
			}
			last = now
		}
	}()
	return thawed
}

// zombieChild is worker 1: it runs every zrun at once and returns when
// all have returned.
func zombieChild(ctx context.Context, t *testing.T, p fleetPlan, store journal.Store, part *participant, ev *eventLog) {
	thawed := watchThaw(ev, p.TTL)
	engine := durable.NewEngine(store, durable.WithOwner(p.Owner), durable.WithLeaseTTL(p.TTL))
	def, err := durable.Register(engine, zombieSaga(p, part, ev, thawed))
	if err != nil {
		t.Fatalf("zombie: %v", err)
	}
	var wg sync.WaitGroup
	for _, r := range zruns {
		wg.Go(func() {
			o := r.o
			rep, err := def.Run(saga.WithRunID(ctx, r.id), &o)
			e := event{Ev: "run", Run: r.id, Note: string(rep.Status), Err: errString(err)}
			if errors.Is(err, journal.ErrLeaseLost) {
				e.Class = "lease_lost"
			}
			ev.add(e)
		})
	}
	wg.Wait()
}

// takerChild is worker 2: Engine.Work until SIGTERM.
func takerChild(ctx context.Context, t *testing.T, p fleetPlan, store journal.Store, part *participant, ev *eventLog) {
	engine := durable.NewEngine(store, durable.WithOwner(p.Owner), durable.WithLeaseTTL(p.TTL), durable.WithConcurrency(8))
	if _, err := durable.Register(engine, zombieSaga(p, part, ev, nil)); err != nil {
		t.Fatalf("taker: %v", err)
	}
	wctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	ev.add(event{Ev: "ready"})
	err := engine.Work(wctx, p.TTL/10)
	ev.add(event{Ev: "stopped", Err: errString(err)})
}

func TestZombieWindow(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	p := fleetPlan{Dir: t.TempDir(), TTL: zombieTTL}
	is.NoErr(createParticipant(p.participant()))
	store, err := sqlite.Open(ctx, p.journal())
	is.NoErr(err)
	t.Cleanup(func() { store.Close() })

	p1, p2 := p, p
	p1.Role, p1.Owner = zombieRole, zombieOwner
	p2.Role, p2.Owner = takerRole, takerOwner
	w1, w2 := startFleet(t, p1), startFleet(t, p2)
	count := func(owner, ev string) int {
		n := 0
		for _, e := range readEvents(t, eventsPath(p.Dir, owner)) {
			if e.Ev == ev {
				n++
			}
		}
		return n
	}
	if !waitFor(t, 60*time.Second, func() bool {
		return count(zombieOwner, "slow") == len(zruns) && count(takerOwner, "ready") == 1
	}, w1, w2) {
		t.Fatalf("worker 1's runs did not all reach their slow parts")
	}

	stopAt, tries := freeze(ctx, t, w1, newLockProbe(t, p.journal()), newLockProbe(t, p.participant()))
	ids := zrunIDs()
	over := waitFor(t, 30*time.Second, func() bool {
		for _, run := range loadAll(ctx, t, store, ids) {
			if !run.Status.Final() {
				return false
			}
		}
		return true
	}, w2)
	if d := zombieStop - time.Since(stopAt); d > 0 {
		time.Sleep(d)
	}
	contAt := time.Now()
	w1.signal(t, syscall.SIGCONT)
	w1.wait(t, 30*time.Second)
	w2.signal(t, syscall.SIGTERM)
	w2.wait(t, 30*time.Second)

	ev1, ev2 := readEvents(t, p1.events()), readEvents(t, p2.events())
	writers := map[int64]string{} // a journal entry's time: the worker that wrote it
	for owner, evs := range map[string][]event{zombieOwner: ev1, takerOwner: ev2} {
		for _, e := range evs {
			if e.Ev == "write" {
				for _, r := range e.Entries {
					writers[r.At] = owner
				}
			}
		}
	}
	dumps := map[string]string{}
	for _, id := range ids {
		run, entries, err := store.Load(ctx, id)
		is.NoErr(err)
		dumps[id] = dumpEntries(run, entries, writers)
	}
	if !over {
		t.Fatalf("worker 2 did not finish worker 1's runs while worker 1 was frozen:\n%s", strings.Join(slices.Collect(maps.Values(dumps)), "\n"))
	}
	part, err := openParticipant(p.participant(), "parent")
	is.NoErr(err)
	defer part.Close()

	checkZombieJournal(ctx, t, store, writers, dumps)
	checkZombieWorld(t, part, dumps)
	checkZombieOverlaps(t, part)
	checkZombieFence(t, ev1, contAt)
	measureZombie(t, ev1, ev2, part, stopAt, contAt, tries)
}

// checkZombieJournal checks each run's end, and that its journal shows no
// entry of worker 1 after worker 2's first: the store took nothing from
// worker 1 once worker 2 held the run.
func checkZombieJournal(ctx context.Context, t *testing.T, store journal.Store, writers map[int64]string, dumps map[string]string) {
	t.Helper()
	for _, r := range zruns {
		run, entries, err := store.Load(ctx, r.id)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != r.want {
			t.Errorf("%s: status %s, want %s:\n%s", r.id, run.Status, r.want, dumps[r.id])
		}
		var lastZombie, firstTaker int64
		for _, e := range entries {
			switch writers[e.At.UnixNano()] {
			case zombieOwner:
				lastZombie = e.Seq
			case takerOwner:
				if firstTaker == 0 {
					firstTaker = e.Seq
				}
			default:
				t.Errorf("%s: entry %d (%s) written by neither worker:\n%s", r.id, e.Seq, e.Kind, dumps[r.id])
			}
		}
		if firstTaker == 0 {
			t.Errorf("%s: worker 2 did not take the run over:\n%s", r.id, dumps[r.id])
		}
		if lastZombie > firstTaker {
			t.Errorf("%s: worker 1 wrote entry %d after worker 2 took the run over (its first entry: %d):\n%s",
				r.id, lastZombie, firstTaker, dumps[r.id])
		}
	}
}

// checkZombieWorld checks the outside world against each run's end: a
// succeeded run's steps took effect once each and stand; a compensated
// run's effects are all undone.
func checkZombieWorld(t *testing.T, part *participant, dumps map[string]string) {
	t.Helper()
	effects, err := part.effects()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range zruns {
		for _, s := range zsteps {
			es := effects[runStep{r.id, s.name}]
			live := 0
			for _, e := range es {
				if e.undoneAt == 0 {
					live++
				}
			}
			switch {
			case len(es) > 1:
				t.Errorf("%s: %s took effect %d times (%+v):\n%s", r.id, s.name, len(es), es, dumps[r.id])
			case r.want == journal.Succeeded && live != 1:
				t.Errorf("%s: succeeded, but %s has %d effects standing:\n%s", r.id, s.name, live, dumps[r.id])
			case r.want == journal.Compensated && live != 0:
				t.Errorf("%s: compensated, but %s has an effect standing:\n%s", r.id, s.name, dumps[r.id])
			}
		}
	}
}

// checkZombieOverlaps checks that the only executions at once were the
// window's: in each run, worker 2 ran the step worker 1 was frozen in (or
// its compensation) while worker 1's execution was still in progress.
func checkZombieOverlaps(t *testing.T, part *participant) {
	t.Helper()
	overlaps, err := part.overlaps()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, o := range overlaps {
		k := slices.IndexFunc(zruns, func(r zrun) bool { return r.id == o.run })
		if k < 0 || o.step != zruns[k].slowStep() ||
			!strings.HasPrefix(o.other, zombieOwner+" ") || !strings.HasPrefix(o.token, takerOwner+" ") {
			t.Errorf("executions at once outside the zombie window: %v", o)
			continue
		}
		seen[o.run]++
	}
	for _, r := range zruns {
		if seen[r.id] != 1 {
			t.Errorf("%s: %d executions at once of %s, want 1 (worker 2's, while worker 1's was frozen)", r.id, seen[r.id], r.slowStep())
		}
	}
	t.Logf("executions at once: %d, one per run, each worker 2's while worker 1's was frozen", len(overlaps))
}

// checkZombieFence checks what worker 1 did once thawed: every journal
// call it began after SIGCONT failed; each of its runs stopped with the
// lease lost; each slow part that watched its context saw it end with
// journal.ErrLeaseLost.
func checkZombieFence(t *testing.T, ev1 []event, contAt time.Time) {
	t.Helper()
	cont := contAt.UnixNano()
	for _, e := range ev1 {
		if (e.Ev == "write" || e.Ev == "renew") && e.T0 >= cont && e.OK {
			t.Errorf("worker 1, thawed, made a journal %s on %s that the store took (%+v)", e.Ev, e.Run, e)
		}
	}
	ran := map[string]bool{}
	for _, e := range ev1 {
		if e.Ev == "run" {
			ran[e.Run] = true
			if e.Class != "lease_lost" {
				t.Errorf("worker 1's %s ended %s with %q, want an error matching journal.ErrLeaseLost", e.Run, e.Note, e.Err)
			}
		}
	}
	for _, r := range zruns {
		if !ran[r.id] {
			t.Errorf("worker 1's Run of %s did not return", r.id)
		}
		if r.o.Blind {
			continue
		}
		i := slices.IndexFunc(ev1, func(e event) bool { return e.Ev == "ctx_done" && e.Run == r.id })
		if i < 0 || !strings.Contains(ev1[i].Err, journal.ErrLeaseLost.Error()) {
			t.Errorf("worker 1's %s: the slow part's context did not end with the lease lost (%v)", r.id, i >= 0 && ev1[i].Err != "")
		}
	}
}

// measureZombie measures the window and checks the late effects: for
// each slow part, how long after SIGCONT its context ended, and what
// became of its call if it made one. Every call worker 1 made after the
// thaw must have been deduplicated or refused, at most one per slow
// part that does not watch its context.
func measureZombie(t *testing.T, ev1, ev2 []event, part *participant, stopAt, contAt time.Time, tries int) {
	ms := func(ns int64) string { return fmt.Sprintf("%.1fms", float64(ns)/1e6) }
	cont := contAt.UnixNano()
	var seen int64 // when worker 1 saw SIGCONT
	var gap int64
	for _, e := range ev1 {
		if e.Ev == "sigcont" && e.T >= cont && seen == 0 {
			seen = e.T
		}
		if e.Ev == "jump" && e.T >= cont && gap == 0 {
			gap = e.Gap
		}
	}
	t.Logf("worker 1 frozen for %v (SIGSTOP try %d); it saw SIGCONT %s after it was sent, its clock jumped %s",
		contAt.Sub(stopAt).Round(time.Millisecond), tries, ms(seen-cont), ms(gap))

	// The takeover: worker 2 claimed each run after worker 1's lease on it
	// had expired.
	for _, r := range zruns {
		var renewed int64 // worker 1's last renewal the store took, as it began
		for _, e := range ev1 {
			if e.Run == r.id && e.OK && (e.Ev == "renew" || e.Ev == "write" && len(e.Entries) > 0 && e.Entries[0].Kind == journal.RunStarted) {
				renewed = e.T0
			}
		}
		i := slices.IndexFunc(ev2, func(e event) bool { return e.Ev == "claim" && slices.Contains(e.Runs, r.id) })
		if i < 0 {
			t.Errorf("%s: worker 2 never claimed it", r.id)
			continue
		}
		expiry := renewed + int64(zombieTTL)
		if ev2[i].T < expiry {
			t.Errorf("%s: worker 2 claimed it %s before worker 1's lease could have expired", r.id, ms(expiry-ev2[i].T))
		}
		t.Logf("%s: worker 2 claimed it %s after the freeze, %s after worker 1's lease expired at the latest",
			r.id, ms(ev2[i].T-stopAt.UnixNano()), ms(ev2[i].T-expiry))
	}

	// The window: each slow part's context, and its late call.
	calls, err := part.calls()
	if err != nil {
		t.Fatal(err)
	}
	late := map[runStep][]callRow{}
	nLate := 0
	for _, c := range calls {
		if c.owner != zombieOwner || c.at < cont {
			continue
		}
		late[runStep{c.run, c.step}] = append(late[runStep{c.run, c.step}], c)
		nLate++
		switch {
		case c.kind == "do" && c.outcome != outDuplicate && c.outcome != outRefused,
			c.kind == "undo" && c.outcome != outAgain:
			t.Errorf("worker 1, thawed, took effect on the world after the takeover: %+v", c)
		}
	}
	blind := 0
	for _, r := range zruns {
		step := r.slowStep()
		var ended string
		for _, e := range ev1 {
			if e.Ev == "ctx_done" && e.Run == r.id {
				ended = fmt.Sprintf("ended %s after SIGCONT (%s)", ms(e.T-cont), e.Err)
				break
			}
		}
		if ended == "" {
			ended = "did not end before the step returned"
		}
		calls := "no late call"
		if cs := late[runStep{r.id, step}]; len(cs) > 0 {
			var outs []string
			for _, c := range cs {
				outs = append(outs, fmt.Sprintf("%s %s %s after SIGCONT (its context: %q)", c.kind, c.outcome, ms(c.at-cont), c.cause))
			}
			calls = "late call: " + strings.Join(outs, ", ")
		}
		if r.o.Blind {
			blind++
		} else if len(late[runStep{r.id, step}]) > 0 {
			t.Errorf("%s: %s watches its context, but called the participant after the thaw", r.id, step)
		}
		t.Logf("%s: %s's context %s; %s", r.id, step, ended, calls)
	}
	if nLate > blind {
		t.Errorf("worker 1 made %d calls after the thaw, more than its %d blind slow parts", nLate, blind)
	}
	var writes, renews int
	refusals := map[string]bool{}
	for _, e := range ev1 {
		if e.T0 >= cont && (e.Ev == "write" || e.Ev == "renew") {
			if e.Ev == "write" {
				writes++
			} else {
				renews++
			}
			refusals[fmt.Sprintf("%s %s: %s", e.Ev, e.Run, e.Err)] = true
		}
	}
	t.Logf("worker 1, thawed: %d late calls to the world (all deduplicated or refused), %d journal writes and %d renewals tried (all refused: %q)",
		nLate, writes, renews, slices.Sorted(maps.Keys(refusals)))
}

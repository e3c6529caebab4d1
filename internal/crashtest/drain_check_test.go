//go:build unix

package crashtest

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
)

// The checks of TestFleetDrain, on what the processes' event logs say of
// each run: who claimed it and when, who renewed its lease, who wrote
// which of its entries, which calls the store refused.
//
// A run changes hands when its driver loses its lease: worker-2, killed,
// and also a live worker whose journal calls stall for longer than its
// lease lets it wait (a renewal that cannot get through before 0.9 TTL:
// the heartbeat gives the run up, and another worker claims it once the
// lease has expired). Either way the handover must be clean: the new
// driver claimed the run once the old lease could have expired (a TTL
// after the old driver's last claim or renewal began), the store took no
// write of the old driver after the claim, and the journal's entries go
// from one driver to the next, never back.

type ownerRun struct{ owner, run string }

// runAt identifies a journal entry: its run, and its time, which durable
// gave it to the nanosecond.
type runAt struct {
	run string
	at  int64
}

// lease is a claim the store granted: who, and when the call began and
// returned (Unix nanoseconds).
type lease struct {
	owner  string
	t0, t1 int64
}

// write is a Create or Append the store took.
type write struct {
	owner   string
	t0, t1  int64
	entries []entryRef
}

type refusal struct {
	owner string
	e     event
}

type drainHistory struct {
	ttl     time.Duration // the workers' lease
	evs     map[string][]event
	claims  map[string][]lease   // by run, in the order they returned
	grants  map[ownerRun][]grant // each claim or renewal the store took
	freed   map[ownerRun][]call  // each release the store took
	writes  map[string][]write   // by run
	writers map[runAt]string     // who wrote each entry
	ends    map[string]write     // by run: the write that ended it
	refused map[string][]refusal // by run
}

func newDrainHistory(evs map[string][]event, ttl time.Duration) *drainHistory {
	h := &drainHistory{ttl: ttl, evs: evs, claims: map[string][]lease{}, grants: map[ownerRun][]grant{}, freed: map[ownerRun][]call{},
		writes: map[string][]write{}, writers: map[runAt]string{}, ends: map[string]write{}, refused: map[string][]refusal{}}
	for owner, es := range evs {
		for _, e := range es {
			switch {
			case e.Ev == "claim" && e.OK:
				for _, id := range e.Runs {
					h.claims[id] = append(h.claims[id], lease{owner, e.T0, e.T})
					h.grants[ownerRun{owner, id}] = append(h.grants[ownerRun{owner, id}], grant{call{e.T0, e.T}, true})
				}
			case e.Ev == "claim":
				h.refused[""] = append(h.refused[""], refusal{owner, e})
			case e.Ev == "renew" && e.OK:
				h.grants[ownerRun{owner, e.Run}] = append(h.grants[ownerRun{owner, e.Run}], grant{call{e.T0, e.T}, false})
			case e.Ev == "release" && e.OK:
				h.freed[ownerRun{owner, e.Run}] = append(h.freed[ownerRun{owner, e.Run}], call{e.T0, e.T})
			case e.Ev == "write" && e.OK:
				w := write{owner, e.T0, e.T, e.Entries}
				h.writes[e.Run] = append(h.writes[e.Run], w)
				for _, r := range e.Entries {
					h.writers[runAt{e.Run, r.At}] = owner
					if r.Kind == journal.RunEnded {
						h.ends[e.Run] = w
					}
				}
			case e.Ev == "write" || e.Ev == "renew":
				h.refused[e.Run] = append(h.refused[e.Run], refusal{owner, e})
			}
		}
	}
	for _, cs := range h.claims {
		slices.SortFunc(cs, func(a, b lease) int { return int(a.t1 - b.t1) })
	}
	return h
}

// lost reports whether owner held run and lost it: another claim of the
// run followed one of owner's.
func (h *drainHistory) lost(owner, run string) bool {
	cs := h.claims[run]
	for _, c := range cs[:max(len(cs)-1, 0)] {
		if c.owner == owner {
			return true
		}
	}
	return false
}

// call is when a journal call began and returned (Unix nanoseconds).
type call struct{ t0, t1 int64 }

// grant is a claim or a renewal the store took.
type grant struct {
	call
	claim bool
}

// lastGrant is when the last grant of prev's lease on run, in force
// before next was granted, began: prev's claim itself, or a later claim
// or renewal by prev.owner that returned before next's claim began. A
// renewal under way then counts too when next is another owner's: the
// store took it before next's claim, or it would have been refused;
// unless prev.owner was claiming the run again meanwhile, since a
// renewal names no lease token and the store may have taken it after
// that claim, extending the later lease. Not so when next is prev.owner's
// own, for the same reason; nor a claim under way then, which may have
// come after next's (the run freed meanwhile).
func (h *drainHistory) lastGrant(prev lease, run string, next lease) int64 {
	grants := h.grants[ownerRun{prev.owner, run}]
	reclaimedDuring := func(g grant) bool {
		for _, c := range grants {
			if c.claim && c.t0 != prev.t0 && c.t0 < g.t1 && c.t1 > g.t0 {
				return true
			}
		}
		return false
	}
	last := prev.t0
	for _, g := range grants {
		before := g.t1 <= next.t0 ||
			!g.claim && prev.owner != next.owner && g.t0 < next.t1 && !reclaimedDuring(g)
		if before {
			last = max(last, g.t0)
		}
	}
	return last
}

// leaseEnd is when prev's lease on run, in force before next was
// granted, had ended at the latest: a TTL after its last claim or
// renewal began, or when prev.owner began to release it, if sooner. A
// release under way when that grant was made may have been taken after
// it: it counts from the grant.
func (h *drainHistory) leaseEnd(prev lease, run string, next lease) int64 {
	g := h.lastGrant(prev, run, next)
	end := g + int64(h.ttl)
	for _, r := range h.freed[ownerRun{prev.owner, run}] {
		if r.t1 > g {
			end = min(end, max(r.t0, g))
		}
	}
	return end
}

// holder is the index in cs of the claim in force at t: the last one
// granted before t; -1 for none.
func holder(cs []lease, t int64) int {
	j := -1
	for i, c := range cs {
		if c.t1 <= t {
			j = i
		}
	}
	return j
}

func (h *drainHistory) describe(run string) string {
	type line struct {
		t0 int64
		s  string
	}
	var lines []line
	at := func(t int64) string { return time.Unix(0, t).Format(time.StampMicro) }
	for owner, es := range h.evs {
		for _, e := range es {
			switch {
			case e.Ev == "claim" && !slices.Contains(e.Runs, run):
				continue
			case e.Ev != "claim" && e.Run != run:
				continue
			}
			outcome := "ok"
			if !e.OK {
				outcome = "refused: " + e.Err
			}
			what := e.Ev
			if len(e.Entries) > 0 {
				kinds := make([]string, len(e.Entries))
				for i, r := range e.Entries {
					kinds[i] = strings.TrimSpace(string(r.Kind) + " " + r.Step)
				}
				what += " [" + strings.Join(kinds, ", ") + "]"
			}
			for i, l := range e.Leases {
				if e.Ev != "claim" || e.Runs[i] == run {
					outcome += fmt.Sprintf(" (the store's lease: %s until %s)", l.Owner, at(l.Expiry))
				}
			}
			lines = append(lines, line{e.T0, fmt.Sprintf("\t%s → %s %s %s: %s\n", at(e.T0), at(e.T), owner, what, outcome)})
		}
	}
	slices.SortFunc(lines, func(a, b line) int { return cmp.Compare(a.t0, b.t0) })
	var b strings.Builder
	b.WriteString("	the run's journal calls, by when they began (→ when they returned):\n")
	for _, l := range lines {
		b.WriteString(l.s)
	}
	return b.String()
}

// checkJournal checks the journal: n runs, the ones started, each
// succeeded, every step succeeded once and made the key of its first
// execution; each run started by the producer and handed over cleanly;
// the runs worker-2 held when it died taken over by another worker. It
// returns the runs.
func (h *drainHistory) checkJournal(ctx context.Context, t *testing.T, store journal.Store, n int, inFlight map[string]journal.Run) []journal.Run {
	t.Helper()
	runs, err := store.List(ctx, journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != n {
		t.Errorf("the journal holds %d runs, want %d", len(runs), n)
	}
	if left, err := store.List(ctx, journal.Filter{Status: unfinished}); err != nil || len(left) > 0 {
		t.Errorf("%d runs left unfinished (%v)", len(left), err)
	}
	want := map[string]bool{}
	for i := range n {
		want[drainID(i)] = true
	}
	bad := 0
	for _, run := range runs {
		if !want[run.ID] {
			t.Errorf("a run nobody started: %s", run.ID)
			continue
		}
		delete(want, run.ID)
		run, entries, err := store.Load(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, held := inFlight[run.ID]
		if problems := h.checkRun(run, entries, held); len(problems) > 0 {
			if bad++; bad <= 10 {
				t.Errorf("%s: %s:\n%s%s", run.ID, strings.Join(problems, "; "), dumpEntries(run, entries, h.entryWriters(run.ID, entries)), h.describe(run.ID))
			}
		}
	}
	if bad > 10 {
		t.Errorf("... and %d more runs with problems", bad-10)
	}
	if len(want) > 0 {
		t.Errorf("%d runs started are not in the journal: %s", len(want), strings.Join(slices.Sorted(maps.Keys(want)), " "))
	}
	return runs
}

// entryWriters maps the times of a run's entries to their writers, for
// dumpEntries.
func (h *drainHistory) entryWriters(run string, entries []journal.Entry) map[int64]string {
	m := map[int64]string{}
	for _, e := range entries {
		if w, ok := h.writers[runAt{run, e.At.UnixNano()}]; ok {
			m[e.At.UnixNano()] = w
		}
	}
	return m
}

func (h *drainHistory) checkRun(run journal.Run, entries []journal.Entry, held bool) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if run.Status != journal.Succeeded {
		fail("status %s, want succeeded", run.Status)
	}
	var st dorder
	if err := json.Unmarshal(run.State, &st); err != nil {
		fail("state: %v", err)
	}
	for _, s := range drainSteps {
		if key := run.ID + "/" + s + "/1"; st.Refs[s] != key {
			fail("state: %s made %q, want %q", s, st.Refs[s], key)
		}
	}

	// The journal: started by the producer, each step succeeded once,
	// then one end.
	succeeded := map[string]int{}
	for _, e := range entries {
		switch e.Kind {
		case journal.RunStarted, journal.StepStarted, journal.RunEnded:
		case journal.StepSucceeded:
			succeeded[e.Step]++
		default:
			fail("entry %d: %s", e.Seq, e.Kind)
		}
	}
	for _, s := range drainSteps {
		if succeeded[s] != 1 {
			fail("%s succeeded %d times in the journal", s, succeeded[s])
		}
	}
	if len(entries) < 2 || entries[0].Kind != journal.RunStarted || h.writers[runAt{run.ID, entries[0].At.UnixNano()}] != drainProducer {
		fail("not started by the producer")
		return problems
	}
	if k := len(entries) - 1; entries[k].Kind != journal.RunEnded || entries[k].Status != journal.Succeeded {
		fail("the last entry is not its end")
	}

	// The claims: each once the previous lease could have expired.
	cs := h.claims[run.ID]
	if len(cs) == 0 {
		fail("never claimed")
		return problems
	}
	for i := 1; i < len(cs); i++ {
		prev, next := cs[i-1], cs[i]
		if end := h.leaseEnd(prev, run.ID, next); next.t1 < end {
			fail("%s claimed it %v before %s's lease could have ended", next.owner, time.Duration(end-next.t1), prev.owner)
		}
	}
	// The victim's last write may land after its death, unlogged (the
	// server carries out a statement sent just before the SIGKILL): it
	// ended the run itself, and no one had to take it over.
	_, endLogged := h.writers[runAt{run.ID, entries[len(entries)-1].At.UnixNano()}]
	if last := cs[len(cs)-1].owner; held && last == drainVictim && endLogged {
		fail("%s held it when it died, and no other worker claimed it", drainVictim)
	}

	// The writes the store took: each from the driver holding the run
	// when the write began.
	index := map[int64]int{} // an entry's time: the claim its write was made under
	for _, w := range h.writes[run.ID] {
		if w.owner == drainProducer {
			continue
		}
		j := holder(cs, w.t0)
		if j < 0 || cs[j].owner != w.owner {
			who := "no one"
			if j >= 0 {
				who = cs[j].owner
			}
			fail("the store took a write of %s begun at %s, when %s had claimed the run", w.owner, time.Unix(0, w.t0).Format(time.StampMicro), who)
		}
		for _, r := range w.entries {
			index[r.At] = j
		}
	}

	// The entries, in order: from one driver to the next, never back. An
	// entry in no event log can only be worker-2's last write, which
	// committed before it could log it.
	victimClaim := -1
	for i, c := range cs {
		if c.owner == drainVictim {
			victimClaim = i
		}
	}
	at, unknown := -1, 0
	for _, e := range entries[1:] {
		j, ok := index[e.At.UnixNano()]
		if !ok {
			unknown++
			j = victimClaim
			if j < 0 {
				fail("entry %d (%s) in no event log, and %s never claimed the run", e.Seq, e.Kind, drainVictim)
			}
		}
		if j < at {
			fail("entry %d (%s) from the driver of claim %d after one from the driver of claim %d", e.Seq, e.Kind, j+1, at+1)
		}
		at = max(at, j)
	}
	if unknown > 2 { // one write: a step's end and the next one's start
		fail("%d entries in no event log", unknown)
	}
	return problems
}

var logRunID = regexp.MustCompile(`run_id=(\S+)`)

// checkProcesses checks what the processes say of themselves: the
// producer produced, and its Starts sent again found their runs; the
// workers stopped by SIGTERM returned from Work with their context's end;
// the store refused no call, and no worker logged an error or a warning,
// but about a run the worker had lost (its heartbeat gave it up, or
// another worker claimed it), a renewal racing the end of its run, or a
// claim in flight when the worker was stopped (sent SIGTERM at stopping),
// which its context's end cut short (Work ignores such a claim's error).
// It returns the runs a worker claimed while it was still driving them
// (durable.ErrBusy: see TestReclaimedWhileBusy).
func (h *drainHistory) checkProcesses(t *testing.T, live map[string]*proc, victim *proc, stopping time.Time) (busy []string) {
	t.Helper()
	if !slices.ContainsFunc(h.evs[drainProducer], func(e event) bool { return e.Ev == "produced" }) {
		t.Errorf("the producer did not log that it was done")
	}
	for owner := range live {
		i := slices.IndexFunc(h.evs[owner], func(e event) bool { return e.Ev == "stopped" })
		if i < 0 {
			t.Errorf("%s: Work did not return", owner)
		} else if h.evs[owner][i].Class != "ctx_end" {
			t.Errorf("%s: Work returned %q, want its context's end", owner, h.evs[owner][i].Err)
		}
	}
	outputs := map[string]string{drainVictim: victim.out.String()}
	for owner, w := range live {
		outputs[owner] = w.out.String()
	}
	for owner, out := range outputs {
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			line := sc.Text()
			if !strings.Contains(line, "level=ERROR") && !strings.Contains(line, "level=WARN") {
				continue
			}
			if m := logRunID.FindStringSubmatch(line); m != nil && h.lost(owner, m[1]) {
				switch {
				case strings.Contains(line, journal.ErrLeaseLost.Error()):
					continue
				case strings.Contains(line, durable.ErrBusy.Error()):
					busy = append(busy, fmt.Sprintf("%s by %s", m[1], owner))
					continue
				}
			}
			t.Errorf("%s logged: %s", owner, line)
		}
	}
	exists := 0
	for run, rs := range h.refused {
		for _, r := range rs {
			switch {
			case r.owner == drainProducer && strings.Contains(r.e.Err, journal.ErrExists.Error()):
				exists++ // a Start sent again
			case r.e.Ev != "claim" && h.lost(r.owner, run):
			case r.e.Ev == "renew" && h.ends[run].owner == r.owner && r.e.T >= h.ends[run].t0:
			case r.e.Ev == "claim" && live[r.owner] != nil && strings.Contains(r.e.Err, context.Canceled.Error()) &&
				r.e.T >= stopping.UnixNano():
			default:
				t.Errorf("%s: a journal %s on %s was refused: %s\n%s", r.owner, r.e.Ev, run, r.e.Err, h.describe(run))
			}
		}
	}
	if want := (drainRuns+9)/10 + 1; exists != want {
		t.Errorf("the producer's Starts found %d runs there already, want %d (every tenth sent twice, and one with another state)", exists, want)
	}
	return busy
}

// worldFigures counts what checkWorld saw.
type worldFigures struct {
	effects    int
	executions int // recorded executions of steps (an execution cut off by a death is not)
	dups       int // calls deduplicated by their keys
	deadDups   int // runs worker-2 held when it died that saw one: it had taken the step's effect
	zombies    int // executions at once, one of a worker that had lost the run
}

// checkWorld checks the outside world: each step of each run took effect
// once, under the key of its first execution, and stands (no tombstone,
// nothing undone); only runs that changed hands saw a call answered
// "duplicate" (a step run again by the next driver); every execution of
// a step began in a process that held the run; and the only executions
// of a step at once were one of a driver that had lost the run (in the
// window a lost lease leaves open: see durable's Guarantees) and one of
// a driver after it.
func (h *drainHistory) checkWorld(t *testing.T, part *participant, n int, inFlight map[string]journal.Run) worldFigures {
	t.Helper()
	var f worldFigures
	effects, err := part.effects()
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i := range n {
		run := drainID(i)
		for _, s := range drainSteps {
			es := effects[runStep{run, s}]
			f.effects += len(es)
			if len(es) != 1 || es[0].key != run+"/"+s+"/1" || es[0].undoneAt != 0 {
				if bad++; bad <= 10 {
					t.Errorf("%s: %s took effects %+v, want one standing, under key %s/%s/1", run, s, es, run, s)
				}
			}
		}
	}
	if bad > 10 {
		t.Errorf("... and %d more steps with wrong effects", bad-10)
	}
	if f.effects != n*len(drainSteps) {
		t.Errorf("%d effects in the world, want %d", f.effects, n*len(drainSteps))
	}
	var tombs int
	if err := part.db.QueryRow(`SELECT count(*) FROM tombstones`).Scan(&tombs); err != nil {
		t.Fatal(err)
	}
	if tombs > 0 {
		t.Errorf("%d steps were compensated in the world", tombs)
	}
	calls, err := part.calls()
	if err != nil {
		t.Fatal(err)
	}
	bad = 0
	deduped := map[string]bool{}
	for _, c := range calls {
		var problem string
		switch {
		case c.kind != "do" || c.outcome != outDone && c.outcome != outDuplicate:
			problem = "a call that should not be"
		case c.outcome == outDuplicate && len(h.claims[c.run]) < 2:
			problem = "a call deduplicated in a run that never changed hands"
		case c.outcome == outDuplicate:
			f.dups++
			if _, held := inFlight[c.run]; held && !deduped[c.run] {
				deduped[c.run] = true
				f.deadDups++
			}
		}
		if problem != "" {
			if bad++; bad <= 10 {
				t.Errorf("%s: %+v\n%s", problem, c, h.describe(c.run))
			}
		}
	}
	if bad > 10 {
		t.Errorf("... and %d more calls that should not be", bad-10)
	}

	// Each execution began while its process held the run: under one of
	// its claims. Two executions at once ran under two claims, the
	// first one lost.
	type execution struct {
		run, step, owner string
		began, ended     int64
		claim            int // the claim it ran under
	}
	execs := map[string]*execution{}
	rows, err := part.db.Query(`SELECT token, run, step, owner, began, ended FROM executions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	bad = 0
	for rows.Next() {
		var tok string
		var x execution
		if err := rows.Scan(&tok, &x.run, &x.step, &x.owner, &x.began, &x.ended); err != nil {
			t.Fatal(err)
		}
		cs := h.claims[x.run]
		x.claim = holder(cs, x.began)
		if x.claim < 0 || cs[x.claim].owner != x.owner {
			if bad++; bad <= 10 {
				t.Errorf("%s: %s began %s in %s, which did not hold the run\n%s", x.run, x.step,
					time.Unix(0, x.began).Format(time.StampMicro), x.owner, h.describe(x.run))
			}
		}
		execs[tok] = &x
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if bad > 10 {
		t.Errorf("... and %d more executions in processes that did not hold their run", bad-10)
	}
	f.executions = len(execs)
	orows, err := part.db.Query(`SELECT run, step, owner, other FROM overlaps ORDER BY at`)
	if err != nil {
		t.Fatal(err)
	}
	defer orows.Close()
	for orows.Next() {
		var o overlap
		if err := orows.Scan(&o.run, &o.step, &o.token, &o.other); err != nil {
			t.Fatal(err)
		}
		a, b := execs[o.token], execs[o.other]
		if a == nil || b == nil || a.claim == b.claim {
			t.Errorf("%s/%s: %q and %q ran at once, under one claim of the run\n%s", o.run, o.step, o.token, o.other, h.describe(o.run))
			continue
		}
		f.zombies++
		if a.claim < b.claim {
			a, b = b, a
		}
		t.Logf("%s/%s ran at once in %s, from %s, and in %s, which had lost the run, until %s",
			o.run, o.step, a.owner, time.Unix(0, a.began).Format(time.StampMicro), b.owner, time.Unix(0, b.ended).Format(time.StampMicro))
	}
	if err := orows.Err(); err != nil {
		t.Fatal(err)
	}
	return f
}

// logTakeovers logs who took over the runs worker-2 held when it died,
// and how long after its death; and the runs live workers lost.
func (h *drainHistory) logTakeovers(t *testing.T, inFlight map[string]journal.Run, reaped time.Time) {
	t.Helper()
	by := map[string]int{}
	var delays []time.Duration
	var live []string
	for _, run := range slices.Sorted(maps.Keys(h.claims)) {
		cs := h.claims[run]
		taken := -1 // the claim that took the run over from worker-2, dead (its own claim may be missing from its log)
		if _, held := inFlight[run]; held {
			taken = slices.IndexFunc(cs, func(c lease) bool { return c.owner != drainVictim && c.t1 > reaped.UnixNano() })
		}
		for i := range cs {
			if i == taken {
				by[cs[i].owner]++
				delays = append(delays, time.Duration(cs[i].t1-reaped.UnixNano()))
				continue
			}
			if i > 0 {
				live = append(live, fmt.Sprintf("%s (%s to %s)", run, cs[i-1].owner, cs[i].owner))
			}
		}
	}
	slices.Sort(delays)
	var parts []string
	for _, o := range slices.Sorted(maps.Keys(by)) {
		parts = append(parts, fmt.Sprintf("%s %d", o, by[o]))
	}
	if len(delays) > 0 {
		t.Logf("recovered by others: %d of %d (%s), claimed %v to %v after %s died (lease %v)",
			len(delays), len(inFlight), strings.Join(parts, ", "),
			delays[0].Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond), drainVictim, h.ttl)
	} else {
		t.Logf("recovered by others: none of %d", len(inFlight))
	}
	if len(live) > 0 {
		if len(live) > 10 {
			live = append(live[:10], fmt.Sprintf("and %d more", len(live)-10))
		}
		t.Logf("runs handed over by live workers that lost their lease (a journal call stalled past it): %s", strings.Join(live, ", "))
	} else {
		t.Logf("no live worker lost a lease")
	}
}

// logCalls logs how long the workers' journal calls took.
func (h *drainHistory) logCalls(t *testing.T) {
	t.Helper()
	took := map[string][]time.Duration{}
	for owner, es := range h.evs {
		if owner == drainProducer {
			continue
		}
		for _, e := range es {
			if e.T0 != 0 {
				took[e.Ev] = append(took[e.Ev], time.Duration(e.T-e.T0))
			}
		}
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(took)) {
		d := took[k]
		slices.Sort(d)
		parts = append(parts, fmt.Sprintf("%s %d: p50 %v, p99 %v, max %v", k, len(d),
			d[len(d)/2].Round(10*time.Microsecond), d[len(d)*99/100].Round(10*time.Microsecond), d[len(d)-1].Round(time.Millisecond)))
	}
	t.Logf("the workers' journal calls: %s", strings.Join(parts, "; "))
}

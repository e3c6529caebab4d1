//go:build unix

package crashtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
)

// tripViews loads every trip's run from store; runs not in the journal
// are missing from the map.
func tripViews(ctx context.Context, t *testing.T, store journal.Store) map[string]*durable.View {
	t.Helper()
	m := map[string]*durable.View{}
	for _, o := range trips {
		v, err := durable.Inspect(ctx, store, o.id)
		if errors.Is(err, journal.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("inspect %s: %v", o.id, err)
		}
		m[o.id] = v
	}
	return m
}

// openSteps returns the steps a journal shows started and not ended, and
// openComps the compensations, each sorted.
func openSteps(entries []journal.Entry) []string {
	return opened(entries, journal.StepStarted, journal.StepSucceeded, journal.StepFailed, journal.StepCancelled)
}

func openComps(entries []journal.Entry) []string {
	return opened(entries, journal.CompStarted, journal.CompSucceeded, journal.CompFailed)
}

func opened(entries []journal.Entry, start journal.Kind, ends ...journal.Kind) []string {
	open := map[string]bool{}
	for _, e := range entries {
		switch {
		case e.Kind == start:
			open[e.Step] = true
		case slices.Contains(ends, e.Kind):
			delete(open, e.Step)
		}
	}
	return slices.Sorted(maps.Keys(open))
}

// expectTrip is expect for a trip, whose journal may show several steps
// of unknown outcome: under ResumeAfterCrash, a running trip ends
// compensated if one of them is not idempotent or if it is meant to fail,
// and succeeded otherwise.
func expectTrip(run string, pre *durable.View, policy durable.CrashPolicy) journal.Status {
	if pre == nil {
		return ""
	}
	switch pre.Run.Status {
	case journal.Running:
	case journal.Compensating:
		return journal.Compensated
	default:
		return pre.Run.Status
	}
	p := progressOf(pre.Entries)
	if len(p.succeeded) == len(tripSteps) {
		return journal.Succeeded
	}
	if policy == durable.CompensateAfterCrash || tripPlanned(run) != "" ||
		slices.ContainsFunc(openSteps(pre.Entries), func(s string) bool { return !tripIdempotent(s) }) {
		return journal.Compensated
	}
	return journal.Succeeded
}

// checkTrip checks one trip after recovery against its journal at the
// crash and the ledger, as checkRun does for orders, and the snapshots
// the journal holds.
func checkTrip(t *testing.T, run string, policy durable.CrashPolicy, pre, post *durable.View, l *ledger) {
	t.Helper()
	want := expectTrip(run, pre, policy)
	if want == "" {
		if post != nil {
			t.Errorf("%s: not journaled at the crash, but recovery made it %s", run, post.Run.Status)
		}
		if l.touched(run) {
			t.Errorf("%s: not journaled at the crash, but the ledger has effects of it", run)
		}
		return
	}
	if post == nil {
		t.Fatalf("%s: lost from the journal", run)
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s (policy %s): %s\njournal at the crash:\n%s\njournal after recovery:\n%s",
			run, policyName(policy), fmt.Sprintf(format, args...), dump(pre), dump(post))
	}
	if post.Run.Status != want {
		fail("status %s, want %s", post.Run.Status, want)
		return
	}
	if post.Run.Ended.IsZero() {
		fail("ended without an end time")
	}
	if pre.Run.Status.Final() && len(post.Entries) != len(pre.Entries) {
		fail("over at the crash, but recovery journaled %d more entries", len(post.Entries)-len(pre.Entries))
	}
	// A step whose outcome was lost stays started in the journal, and is
	// compensated (see below) or run again; a compensation cannot stay so.
	if c := openComps(post.Entries); len(c) > 0 {
		fail("ended with compensations %v started and not ended", c)
	}
	p := progressOf(post.Entries)
	started := map[string]bool{}
	for _, e := range post.Entries {
		switch e.Kind {
		case journal.StepStarted:
			started[e.Step] = true
			if e.Attempt != 1 {
				fail("%s started as execution %d: recovery runs a step again as the execution that was running", e.Step, e.Attempt)
			}
		case journal.CompStarted:
			if !started[e.Step] {
				fail("%s compensated, but it never started", e.Step)
			}
		case journal.StepFailed, journal.StepCancelled:
			if e.Step != tripPlanned(run) {
				fail("%s %s, but only %q is meant to fail", e.Step, e.Kind, tripPlanned(run))
			}
		}
	}
	for _, s := range tripSteps {
		e := l.of(run, s.name)
		key := run + "/" + s.name + "/1"
		for _, k := range e.calls {
			if k != key {
				fail("%s called with idempotency key %q, want %q", s.name, k, key)
			}
		}
		switch {
		case e.dos > 1:
			fail("%s took effect %d times", s.name, e.dos)
		case e.dos == 1 && !p.started[s.name]:
			fail("%s took effect, but the journal does not know it started", s.name)
		case e.undos > e.dos:
			fail("%s undone %d times, done %d", s.name, e.undos, e.dos)
		case s.name == tripPlanned(run) && e.dos != 0:
			fail("%s is meant to fail, but took effect", s.name)
		case !s.idempotent && len(e.calls) > 1:
			fail("%s is not idempotent, but was called %d times", s.name, len(e.calls))
		}
		switch want {
		case journal.Succeeded:
			if e.dos != 1 || e.undos != 0 || !p.succeeded[s.name] || p.compensated[s.name] {
				fail("succeeded, but %s was done %d times, undone %d (journal: succeeded %t, compensated %t)",
					s.name, e.dos, e.undos, p.succeeded[s.name], p.compensated[s.name])
			}
		case journal.Compensated:
			if e.undos != e.dos {
				fail("compensated, but %s was done %d times, undone %d", s.name, e.dos, e.undos)
			}
			if p.started[s.name] && !p.failed[s.name] && !p.compensated[s.name] {
				fail("compensated, but %s started and was not compensated", s.name)
			}
		}
	}
	checkSnapshots(run, post, fail)
}

// checkSnapshots checks that each snapshot a trip's journal holds has
// exactly the keys of the steps journaled as succeeded up to it, each
// under its first execution's key, whatever crashed in between; and that
// a succeeded trip's newest snapshot holds all of them, and the header
// the newest snapshot's.
func checkSnapshots(run string, post *durable.View, fail func(string, ...any)) {
	decode := func(b []byte) (map[string]string, error) {
		var st trip
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, err
		}
		return st.Keys.Get(), nil
	}
	want := map[string]string{}
	for _, e := range post.Entries {
		if e.Kind == journal.StepSucceeded {
			want[e.Step] = run + "/" + e.Step + "/1"
		}
		if e.State == nil {
			continue
		}
		got, err := decode(e.State)
		if err != nil {
			fail("entry %d: snapshot: %v", e.Seq, err)
			continue
		}
		if !maps.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			fail("entry %d (%s %s): snapshot holds %v, want %v", e.Seq, e.Kind, e.Step, got, want)
		}
	}
	if post.Run.Status == journal.Succeeded {
		got, err := decode(post.State)
		if err != nil || len(got) != len(tripSteps) {
			fail("succeeded, but its newest snapshot holds %v (%v)", got, err)
		}
	}
	// The header's state catches up when the run ends, recovered or not.
	header, err := decode(post.Run.State)
	if newest, nerr := decode(post.State); err != nil || nerr != nil || !maps.Equal(header, newest) {
		fail("ended with %v in its header's state, and %v in its newest snapshot (%v, %v)", header, newest, err, nerr)
	}
}

// traceEvent is a line of the trace.
type traceEvent struct {
	pid, ev, kind, run, step, outcome string
}

func readTrace(t *testing.T, path string) []traceEvent {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []traceEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) == 5 && fs[1] == "begin":
			out = append(out, traceEvent{pid: fs[0], ev: fs[1], kind: fs[2], run: fs[3], step: fs[4]})
		case len(fs) == 6 && fs[1] == "end":
			out = append(out, traceEvent{pid: fs[0], ev: fs[1], kind: fs[2], run: fs[3], step: fs[4], outcome: fs[5]})
		default:
			t.Fatalf("trace: bad line %q", sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkTrace checks the order of every execution of the trips' actions
// and compensations, in the child and then in recovery (recovery's lines
// have pid recovery):
//
//   - one process at a time: the child's lines all come before
//     recovery's, and in a process, no two executions of a step (or of
//     its compensation) of a run are in progress at once;
//   - a step's action begins only after every step it runs after has
//     ended with success;
//   - a compensation begins only after the compensations of the steps
//     that depend on it ended (the last execution of each that began
//     before it, which must have ended before it): the child's, or
//     recovery's when the child died in it (a compensation may come
//     without its action: a step whose start was journaled, and whose
//     process died before calling it, has an unknown outcome);
//   - recovery executes only what the journal at the crash did not show
//     ended: no step journaled as succeeded or failed runs again, no
//     compensation journaled as done.
func checkTrace(t *testing.T, events []traceEvent, recovery string, pre, post map[string]*durable.View) {
	t.Helper()
	failed := false
	fail := func(k int, format string, args ...any) {
		t.Helper()
		failed = true
		t.Errorf("trace line %d (%v): %s", k+1, events[k], fmt.Sprintf(format, args...))
	}
	type exec struct{ pid, kind, run, step string }
	inProgress := map[exec]bool{}
	last := map[exec]int{} // by pid "": the last begin of an execution, any process
	ended := map[int]int{} // begin line → its end line
	begun := map[exec]int{}
	actOK := map[runStep]bool{}
	seen := map[string]bool{}
	prev := ""
	for k, e := range events {
		if e.pid != prev {
			if seen[e.pid] {
				fail(k, "process %s writes again after process %s", e.pid, prev)
			}
			seen[e.pid], prev = true, e.pid
		}
		x := exec{e.pid, e.kind, e.run, e.step}
		every := exec{"", e.kind, e.run, e.step}
		if e.ev == "end" {
			if !inProgress[x] {
				fail(k, "ends an execution that did not begin")
			}
			inProgress[x] = false
			ended[begun[x]] = k
			if e.kind == "act" && e.outcome == "ok" {
				actOK[runStep{e.run, e.step}] = true
			}
			continue
		}
		if inProgress[x] {
			fail(k, "begins while another execution of it is in progress in the same process")
		}
		inProgress[x], begun[x], last[every] = true, k, k
		switch e.kind {
		case "act":
			for _, d := range tripAfter(e.step) {
				if !actOK[runStep{e.run, d}] {
					fail(k, "begins before %s, which it runs after, succeeded", d)
				}
			}
		case "comp":
			for _, d := range tripDependents(e.step) {
				b, ok := last[exec{"", "comp", e.run, d}]
				if !ok {
					if v := post[e.run]; v != nil && progressOf(v.Entries).compensated[d] {
						fail(k, "begins before %s, which runs after it and is compensated, was", d)
					}
					continue
				}
				if end, ok := ended[b]; !ok || end > k {
					fail(k, "begins while the compensation of %s, which runs after it, has not ended (line %d)", d, b+1)
				}
			}
		}
		if e.pid == recovery {
			checkRecovered(t, k, e, pre[e.run], fail)
		}
	}
	if failed {
		var b strings.Builder
		for k, e := range events {
			fmt.Fprintf(&b, "\t%d %v\n", k+1, e)
		}
		t.Logf("trace:\n%s", b.String())
	}
}

// checkRecovered checks that recovery's execution e was left to do by
// the journal at the crash.
func checkRecovered(t *testing.T, k int, e traceEvent, pre *durable.View, fail func(int, string, ...any)) {
	t.Helper()
	if pre == nil {
		fail(k, "recovery executes a step of a run not journaled at the crash")
		return
	}
	p := progressOf(pre.Entries)
	switch e.kind {
	case "act":
		if p.succeeded[e.step] || p.failed[e.step] {
			fail(k, "recovery runs again a step the journal at the crash shows ended (succeeded %t, failed %t)",
				p.succeeded[e.step], p.failed[e.step])
		}
	case "comp":
		if p.compensated[e.step] {
			fail(k, "recovery compensates again a step the journal at the crash shows compensated")
		}
	}
}

// checkLedgerOrder checks the order of the effects in the ledger, line
// by line: in each trip, a step took effect only after the steps it runs
// after took theirs, and an effect was undone only after it was taken and
// after the effects of the steps that depend on it were undone.
func checkLedgerOrder(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	done, undone := map[runStep]bool{}, map[runStep]bool{}
	for k, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		rs := runStep{f[1], f[2]}
		switch f[0] {
		case "do":
			for _, d := range tripAfter(rs.step) {
				if !done[runStep{rs.run, d}] {
					t.Errorf("ledger line %d (%s): %s took effect before %s, which it runs after", k+1, line, rs.step, d)
				}
			}
			done[rs] = true
		case "undo":
			if !done[rs] {
				t.Errorf("ledger line %d (%s): undone before it took effect", k+1, line)
			}
			for _, d := range tripDependents(rs.step) {
				if done[runStep{rs.run, d}] && !undone[runStep{rs.run, d}] {
					t.Errorf("ledger line %d (%s): %s undone while the effect of %s, which runs after it, stands", k+1, line, rs.step, d)
				}
			}
			undone[rs] = true
		}
	}
}

//go:build unix

package crashtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
)

// views loads every order's run from store; runs not in the journal are
// missing from the map.
func views(ctx context.Context, t *testing.T, store journal.Store) map[string]*durable.View {
	t.Helper()
	m := map[string]*durable.View{}
	for _, o := range orders {
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

// progress is what a journal says of a run's steps.
type progress struct {
	started, succeeded, failed, compensated map[string]bool
	open                                    string // the step started and not ended, if any
}

func progressOf(entries []journal.Entry) progress {
	p := progress{started: map[string]bool{}, succeeded: map[string]bool{}, failed: map[string]bool{}, compensated: map[string]bool{}}
	for _, e := range entries {
		switch e.Kind {
		case journal.StepStarted:
			p.started[e.Step], p.open = true, e.Step
		case journal.StepSucceeded:
			p.succeeded[e.Step], p.open = true, ""
		case journal.StepFailed:
			p.failed[e.Step], p.open = true, ""
		case journal.CompSucceeded:
			p.compensated[e.Step] = true
		}
	}
	return p
}

// expect returns how a run must end after recovery, given its journal at
// the crash (nil if it was not journaled) and the crash policy; "" means
// it must stay out of the journal.
//
//   - A run not journaled never ran a step (its creation goes out with its
//     first step's start).
//   - A run over at the crash stays as it was.
//   - A compensating run ends compensated.
//   - A running run whose steps all succeeded ends succeeded, whatever the
//     policy: only its end was not journaled.
//   - Otherwise, under CompensateAfterCrash it ends compensated; under
//     ResumeAfterCrash it ends compensated if the step that was running is
//     not idempotent (its outcome is lost) or if the run is meant to fail,
//     and succeeded otherwise.
func expect(run string, pre *durable.View, policy durable.CrashPolicy) journal.Status {
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
	if len(p.succeeded) == len(steps) {
		return journal.Succeeded
	}
	if policy == durable.CompensateAfterCrash || p.open != "" && !idempotent(p.open) || planned(run) != "" {
		return journal.Compensated
	}
	return journal.Succeeded
}

// checkRun checks one run after recovery against its journal at the crash
// and the ledger.
func checkRun(t *testing.T, run string, policy durable.CrashPolicy, pre, post *durable.View, l *ledger) {
	t.Helper()
	want := expect(run, pre, policy)
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
	p := progressOf(post.Entries)
	started := map[string]bool{}
	for _, e := range post.Entries {
		if e.Kind == journal.StepStarted {
			started[e.Step] = true
		}
		if e.Kind == journal.CompStarted && !started[e.Step] {
			fail("%s compensated, but it never started", e.Step)
		}
	}
	for _, s := range steps {
		e := l.of(run, s.name)
		for _, k := range e.calls {
			if k != run+"/"+s.name+"/1" {
				fail("%s called with idempotency key %q, want %q", s.name, k, run+"/"+s.name+"/1")
			}
		}
		switch {
		case e.dos > 1:
			fail("%s took effect %d times", s.name, e.dos)
		case e.dos == 1 && !p.started[s.name]:
			fail("%s took effect, but the journal does not know it started", s.name)
		case e.undos > e.dos:
			fail("%s undone %d times, done %d", s.name, e.undos, e.dos)
		case s.name == planned(run) && e.dos != 0:
			fail("%s is meant to fail, but took effect", s.name)
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
			// A step that started and did not fail may have taken effect:
			// it must have been compensated.
			if p.started[s.name] && !p.failed[s.name] && !p.compensated[s.name] {
				fail("compensated, but %s started and was not compensated", s.name)
			}
		}
	}
}

// dump renders a run's journal for failure messages.
func dump(v *durable.View) string {
	if v == nil {
		return "\t(not journaled)\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\tstatus %s\n", v.Run.Status)
	for _, e := range v.Entries {
		fmt.Fprintf(&b, "\t%d %s %s/%d %s %s", e.Seq, e.Kind, e.Step, e.Attempt, e.Status, e.Error)
		if e.Verb != "" || e.Note != "" {
			fmt.Fprintf(&b, " (%s %q)", e.Verb, e.Note)
		}
		b.WriteString("\n")
	}
	return b.String()
}

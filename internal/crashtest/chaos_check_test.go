//go:build unix

package crashtest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// checkChaos checks every run of the campaign against its journal and the
// execution ledger, and returns how many runs ended in each status and
// the violations found:
//
//   - a run that neither succeeded nor was compensated, nor was abandoned
//     by an operator's request carried out (the drain answered every run
//     of the pause saga that paused, so a paused run is one the rules
//     did not pause);
//   - a succeeded run with a step whose effect does not stand once, or a
//     compensated run with an effect standing;
//   - a step compensated that never started (in the journal);
//   - a compensation journaled twice for one execution, or executed
//     after its success was journaled; a step executed after its success
//     was journaled under its key;
//   - an effect taken twice under one idempotency key by a step that is
//     not idempotent;
//   - two executions (actions or compensations) of one step of a run at
//     once, other than in the frozen-process window: the earlier one in a
//     process that was stopped (SIGSTOP) while it ran, the later in
//     another.
//
// Each violation has a kind, for the figures; a step or compensation
// executed after its success was journaled, by a process thawed shortly
// before (within thaw), is of its own kind.
func checkChaos(ctx context.Context, t *testing.T, store journal.Store, part *participant, runs []chaosRun,
	stops map[string][]frozen, thaw time.Duration) (map[journal.Status]int, []chaosViolation) {
	t.Helper()
	effects, execs, err := part.chaosWorld()
	if err != nil {
		t.Fatalf("read the ledger: %v", err)
	}
	statuses := map[journal.Status]int{}
	var violations []chaosViolation
	var nExecs, nEffects, windows, refused, dups, dead int
	for _, r := range runs {
		var run journal.Run
		var entries []journal.Entry
		var err error
		for try := 0; try < 50; try++ {
			if run, entries, err = store.Load(ctx, r.id); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			violations = append(violations, chaosViolation{"lost", fmt.Sprintf("%s: not in the journal: %v", r.id, err)})
			continue
		}
		statuses[run.Status]++
		xs, es := execs[r.id], effects[r.id]
		nExecs += len(xs)
		nEffects += len(es)
		bad := func(kind, format string, args ...any) {
			violations = append(violations, chaosViolation{kind, fmt.Sprintf("%s (%s, %+v): %s\n%s", r.id, r.saga, r.o,
				fmt.Sprintf(format, args...), dumpChaos(run, entries, xs, es, stops))})
		}
		// again is the kind of an execution x after its success was
		// journaled.
		again := func(x chaosExecRow) string {
			for _, f := range stops[x.owner] {
				// (SIGCONT was sent just before f.to was read: the process
				// may have run first.)
				if f.from <= x.began && x.began-f.to < int64(thaw) {
					return "ran_after_success_journaled_just_after_a_thaw"
				}
			}
			return "ran_after_success_journaled"
		}

		// The end.
		switch run.Status {
		case journal.Succeeded, journal.Compensated:
		case journal.Abandoned, journal.Resolved:
			verb := map[journal.Status]journal.Verb{journal.Abandoned: journal.Abandon, journal.Resolved: journal.Resolve}[run.Status]
			if !carriedOut(entries, verb) {
				bad("bad_end", "%s, but no operator's request to do so was carried out", run.Status)
			}
		default:
			bad("bad_end", "ended %s: neither completed, nor compensated, nor ended by an operator", run.Status)
		}

		// The journal.
		started := map[string]bool{}
		stepDone := map[string]time.Time{} // by key
		compDone := map[string]time.Time{} // by step
		for _, e := range entries {
			key := fmt.Sprintf("%s/%s/%d", r.id, e.Step, e.Attempt)
			switch e.Kind {
			case journal.StepStarted:
				started[e.Step] = true
			case journal.StepSucceeded:
				if _, ok := stepDone[key]; ok {
					bad("journaled_twice", "step %s journaled as succeeded twice for execution %d", e.Step, e.Attempt)
				}
				stepDone[key] = e.At
			case journal.CompStarted, journal.CompSucceeded:
				if !started[e.Step] {
					bad("compensated_never_started", "step %s compensated, never started", e.Step)
				}
				if e.Kind != journal.CompSucceeded {
					break
				}
				if _, ok := compDone[e.Step]; ok {
					bad("journaled_twice", "compensation of %s journaled as succeeded twice", e.Step)
					break
				}
				compDone[e.Step] = e.At
			}
		}

		// The ledger against the journal.
		for _, x := range xs {
			if at, ok := stepDone[x.key]; ok && x.kind == "do" && x.began > at.UnixNano() && x.outcome == outDead {
				dead++
			} else if ok && x.kind == "do" && x.began > at.UnixNano() {
				bad(again(x), "step %s executed again by %s under %s after its success was journaled", x.step, x.owner, x.key)
			}
			if at, ok := compDone[x.step]; ok && x.kind == "undo" && x.began > at.UnixNano() && x.outcome == outDead {
				dead++
			} else if ok && x.kind == "undo" && x.began > at.UnixNano() {
				bad(again(x), "compensation of %s executed again by %s after its success was journaled", x.step, x.owner)
			}
			if x.outcome == outRefused {
				refused++
			}
			if x.outcome == outDuplicate {
				dups++
			}
		}
		standing, byKey := map[string]int{}, map[string]int{}
		for _, e := range es {
			if e.undoneAt == 0 {
				standing[e.step]++
			}
			byKey[e.key]++
		}
		for _, s := range chaosSteps[r.saga] {
			switch {
			case run.Status == journal.Succeeded && standing[s.name] != 1:
				bad("effects_standing_wrong", "succeeded, but %s has %d effects standing", s.name, standing[s.name])
			case run.Status == journal.Compensated && standing[s.name] != 0:
				bad("effects_standing_wrong", "compensated, but %s has %d effects standing", s.name, standing[s.name])
			}
			if s.idempotent {
				continue
			}
			for key, n := range byKey {
				if n > 1 && strings.HasPrefix(key, r.id+"/"+s.name+"/") {
					bad("not_idempotent_twice_under_one_key", "%s is not idempotent, and took effect %d times under %s", s.name, n, key)
				}
			}
		}

		// Executions at once.
		bySteps := map[string][]chaosExecRow{}
		for _, x := range xs {
			bySteps[x.step] = append(bySteps[x.step], x)
		}
		for _, step := range slices.Sorted(maps.Keys(bySteps)) {
			ys := bySteps[step] // by began
			for i := range ys {
				for j := i + 1; j < len(ys) && ys[j].began < ys[i].ended; j++ {
					a, b := ys[i], ys[j]
					if a.owner != b.owner && wasStopped(stops[a.owner], a.began, b.began) {
						windows++
						continue
					}
					bad("at_once_outside_the_window", "%s: %s's %s (%s) began while %s's %s (%s) was in progress, outside the frozen-process window",
						step, b.owner, b.kind, b.key, a.owner, a.kind, a.key)
				}
			}
		}
	}
	t.Logf("ledger: %d executions, %d effects (%d actions deduplicated by their key, %d refused by a tombstone); %d executions at once in the frozen-process window; %d steps or compensations called after their success was journaled by a driver that had lost the run, their context ended already",
		nExecs, nEffects, dups, refused, windows, dead)
	return statuses, violations
}

// chaosViolation is a violation the checker found: its kind, and what
// it is, with the run's journal and ledger.
type chaosViolation struct{ kind, text string }

// carriedOut reports whether entries hold an operator's request of verb
// carried out (not refused).
func carriedOut(entries []journal.Entry, verb journal.Verb) bool {
	return slices.ContainsFunc(entries, func(e journal.Entry) bool {
		return e.Kind == journal.RequestCarriedOut && e.Verb == verb && !strings.HasPrefix(e.Note, "refused: ")
	})
}

// wasStopped reports whether a stretch of stops overlaps [from, to].
func wasStopped(stops []frozen, from, to int64) bool {
	for _, s := range stops {
		if s.from <= to && s.to >= from {
			return true
		}
	}
	return false
}

// dumpChaos renders a run's journal and what the ledger holds of it.
func dumpChaos(run journal.Run, entries []journal.Entry, xs []chaosExecRow, es []chaosEffect, stops map[string][]frozen) string {
	var b strings.Builder
	b.WriteString(dumpEntries(run, entries, nil))
	t0 := run.Created.UnixNano()
	ms := func(ns int64) string { return strconv.FormatFloat(float64(ns-t0)/1e6, 'f', 1, 64) + "ms" }
	for _, x := range xs {
		fmt.Fprintf(&b, "\t  ledger: %s %s %s by %s: %s, %s to %s\n", x.kind, x.step, x.key, x.owner, x.outcome, ms(x.began), ms(x.ended))
	}
	for _, e := range es {
		undone := "standing"
		if e.undoneAt != 0 {
			undone = "undone at " + ms(e.undoneAt)
		}
		fmt.Fprintf(&b, "\t  effect: %s by %s at %s, %s\n", e.key, e.owner, ms(e.at), undone)
	}
	owners := map[string]bool{}
	for _, x := range xs {
		owners[x.owner] = true
	}
	for _, o := range slices.Sorted(maps.Keys(owners)) {
		for _, f := range stops[o] {
			fmt.Fprintf(&b, "\t  %s stopped (SIGSTOP) from %s to %s\n", o, ms(f.from), ms(f.to))
		}
	}
	return b.String()
}

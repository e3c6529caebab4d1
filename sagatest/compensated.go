package sagatest

import (
	"slices"
	"testing"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/saga"
)

// AssertCompensated checks, from the calls r recorded, that the run
// runID of sg left nothing done, and reports each violation with
// t.Errorf:
//
//   - every execution of a step that took effect (the wrapped action was
//     called and returned nil) and has a compensation was undone by
//     exactly one compensation call that returned nil;
//   - no step's compensation started before the compensations of the
//     steps that ran after it were done. "After" is the plan's order for
//     a sequential saga, which the runners unwind in reverse order of
//     completion, and the dependencies ([saga.After]) for a graph, whose
//     independent steps may be undone in any order, or at once.
//
// The check sees what r wrapped: wrap the compensation of every step
// whose action it wraps. An execution is an idempotency key in a durable
// run ([durable.IdempotencyKey]: a step run again after a crash under
// the same key is one execution), and a step otherwise. Failed compensation
// attempts do not count, nor do compensations of executions that took no
// effect (a durable run compensates a step whose outcome it lost, which
// may not have run at all). A compensation that ran again because its
// process died before journaling its end counts twice, as it should in
// this check: for such runs, check the world with a [Participant], which
// takes an undo once per key.
func (r *Recorder[S]) AssertCompensated(t testing.TB, sg *saga.Saga[S], runID string) {
	t.Helper()
	var calls []Call
	for _, c := range r.Calls() {
		if c.RunID == runID {
			calls = append(calls, c)
		}
	}
	if len(calls) == 0 {
		t.Errorf("sagatest: run %s: no call recorded", runID)
		return
	}
	plan := sg.Plan()
	type execution struct {
		key  string
		step int
		undo []Call // the calls of its compensation
	}
	var execs []*execution // those that took effect, with a compensation, in order
	byKey := map[string]*execution{}
	for _, c := range calls {
		i, ok := plan.Index(c.Step)
		if ok && !c.Compensation && c.tookEffect() && sg.HasCompensation(i) && byKey[c.execution()] == nil {
			x := &execution{key: c.execution(), step: i}
			byKey[x.key] = x
			execs = append(execs, x)
		}
	}
	for _, c := range calls {
		if x := byKey[c.execution()]; x != nil && c.Compensation {
			x.undo = append(x.undo, c)
		}
	}
	name := func(i int) string { return plan.Decl(i).Name }
	for _, x := range execs {
		switch n := undone(x.undo); {
		case n == 0:
			t.Errorf("sagatest: run %s: step %q took effect (%s) and was not compensated", runID, name(x.step), x.key)
		case n > 1:
			t.Errorf("sagatest: run %s: step %q was compensated %d times (%s)", runID, name(x.step), n, x.key)
		}
	}
	before := unwindOrder(plan)
	for _, a := range execs {
		for _, b := range execs {
			if !before(a.step, b.step) || undone(a.undo) == 0 || undone(b.undo) == 0 {
				continue
			}
			if firstStart(a.undo) < lastEnd(b.undo) { // b ran after a: b is undone first
				t.Errorf("sagatest: run %s: step %q was compensated before step %q, which ran after it",
					runID, name(a.step), name(b.step))
			}
		}
	}
}

// unwindOrder returns the order in which a plan's steps must be undone:
// before(i, j) when step j runs after step i, so that j is undone first.
func unwindOrder(plan *builder.Plan) (before func(i, j int) bool) {
	n := plan.Len()
	if plan.Sequential() {
		pos := make([]int, n)
		for k, i := range plan.Order() {
			pos[i] = k
		}
		return func(i, j int) bool { return pos[i] < pos[j] }
	}
	after := make([][]bool, n) // after[i][j]: j depends on i, perhaps through others
	for _, i := range slices.Backward(plan.Order()) {
		after[i] = make([]bool, n)
		for _, j := range plan.Dependents(i) {
			after[i][j] = true
			for k, yes := range after[j] {
				after[i][k] = after[i][k] || yes
			}
		}
	}
	return func(i, j int) bool { return after[i][j] }
}

// undone counts the compensation calls that took effect.
func undone(calls []Call) int {
	n := 0
	for _, c := range calls {
		if c.tookEffect() {
			n++
		}
	}
	return n
}

// firstStart returns when the first of calls started.
func firstStart(calls []Call) uint64 {
	first := calls[0].start
	for _, c := range calls[1:] {
		first = min(first, c.start)
	}
	return first
}

// lastEnd returns when the last of calls that took effect returned.
func lastEnd(calls []Call) uint64 {
	var last uint64
	for _, c := range calls {
		if c.tookEffect() {
			last = max(last, c.end)
		}
	}
	return last
}

package durable

import (
	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// history is what a run's journal says of each step.
type history struct {
	steps   []saga.StepReport
	attempt []int  // the last execution number started
	open    []bool // started, not journaled as ended: outcome unknown
	rerun   []bool // the last start ran again an execution of unknown outcome
	// failedRerun: that re-run failed of its own. The failure is
	// journaled (recovery compensates, or pauses, as after any failure),
	// but the execution it ran again may have taken effect before its
	// process died: it is compensated as done.
	failedRerun []bool
	compOpen    []bool // compensation started, not journaled as ended
	waiting     []bool // the step waits (its last entry is StepWaiting)
	// waited holds, per step, the WaitEnded entries of its last
	// execution, in order.
	waited [][]journal.Entry
	// stateLost names the newest step journaled as succeeded without a
	// snapshot (its state could not be encoded) when no snapshot came
	// after it: the journal's state is older than the run's effects.
	stateLost string
	// before is the status a blocked run had when it was set aside.
	before journal.Status
}

// replay reads a run's journal against the plan it was made with.
func replay(plan *builder.Plan, entries []journal.Entry) history {
	n := plan.Len()
	h := history{
		steps: make([]saga.StepReport, n), attempt: make([]int, n),
		open: make([]bool, n), rerun: make([]bool, n), failedRerun: make([]bool, n), compOpen: make([]bool, n),
		waiting: make([]bool, n), waited: make([][]journal.Entry, n),
	}
	for _, e := range entries {
		if isSnapshot(e) {
			h.stateLost = ""
		}
		if e.Kind == journal.RunBlocked && e.Status != "" {
			h.before = e.Status
		}
		i, ok := plan.Index(e.Step)
		if !ok {
			continue // a run-level entry
		}
		woken := h.waiting[i] // the entry before this one was the step's wait
		if e.Kind != journal.StepWaiting {
			h.waiting[i] = false
		}
		switch e.Kind {
		case journal.StepWaiting:
			h.waiting[i] = true
		case journal.WaitEnded:
			h.waited[i] = append(h.waited[i], e)
		case journal.StepStarted:
			if e.Attempt != h.attempt[i] {
				h.waited[i] = nil // a new execution waits anew
			}
			// Run again as the same execution after a crash, or after
			// a re-run of it failed, not after its wait (the execution
			// it resumes suspended, so nothing after its wait took
			// effect).
			h.rerun[i] = (h.open[i] || h.failedRerun[i]) && e.Attempt == h.attempt[i] && !woken
			h.attempt[i], h.open[i], h.failedRerun[i] = e.Attempt, true, false
		case journal.StepSucceeded, journal.StepFailed, journal.StepCancelled:
			// A re-run cancelled (a sibling failed) leaves the outcome
			// unknown: the execution it ran again may have taken effect.
			// One that failed of its own may have failed before it
			// reached that effect: see failedRerun.
			h.open[i] = e.Kind == journal.StepCancelled && h.rerun[i]
			h.failedRerun[i] = e.Kind == journal.StepFailed && h.rerun[i]
			if e.Kind == journal.StepSucceeded && e.State == nil && e.Note != journal.StateKept {
				h.stateLost = e.Step
			}
		case journal.CompStarted:
			h.compOpen[i] = true
		case journal.CompSucceeded, journal.CompFailed:
			// The step's compensation ended: it is known as compensated (or
			// as failing to), even if the step itself never ended (it
			// waited, or its process died in it): not compensated again.
			h.compOpen[i], h.open[i], h.failedRerun[i] = false, false, false
		}
		applyEntry(&h.steps[i], e)
	}
	return h
}

// status is the status the run is driven from: a blocked run's is the
// one it had when it was set aside.
func (h *history) status(run journal.Run) journal.Status {
	if run.Status == journal.Blocked && h.before != "" {
		return h.before
	}
	return run.Status
}

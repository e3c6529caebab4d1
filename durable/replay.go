package durable

import (
	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// history is what a run's journal says of each step.
type history struct {
	steps    []saga.StepReport
	attempt  []int  // the last execution number started
	open     []bool // started, not journaled as ended: outcome unknown
	compOpen []bool // compensation started, not journaled as ended
}

// replay reads a run's journal against the plan it was made with.
func replay(plan *builder.Plan, entries []journal.Entry) history {
	n := plan.Len()
	h := history{
		steps: make([]saga.StepReport, n), attempt: make([]int, n),
		open: make([]bool, n), compOpen: make([]bool, n),
	}
	for _, e := range entries {
		i, ok := plan.Index(e.Step)
		if !ok {
			continue // a run-level entry
		}
		switch e.Kind {
		case journal.StepStarted:
			h.attempt[i], h.open[i] = e.Attempt, true
		case journal.StepSucceeded, journal.StepFailed:
			h.open[i] = false
		case journal.CompStarted:
			h.compOpen[i] = true
		case journal.CompSucceeded, journal.CompFailed:
			h.compOpen[i] = false
		}
		applyEntry(&h.steps[i], e)
	}
	return h
}

package journaltest

import (
	"time"

	"github.com/sagakit/sagakit/journal"
)

// testEntryState: an entry written without a State is read back without
// one (nil, not empty), and one with a State, however short, with it.
// durable tells a step that kept the state ([journal.StateKept], no
// State) and a step whose state was lost (no State, no note) from a
// snapshot by a nil State: a store that read NULL back as an empty
// snapshot would have the run carried on from an empty state.
func testEntryState(h *harness) {
	h.create("run-1", journal.Running, "w1", time.Minute)
	add := []journal.Entry{
		{Kind: journal.StepSucceeded, Step: "a", Attempt: 1, Attempts: 1, State: []byte("1"), At: h.now()},
		{Kind: journal.StepSucceeded, Step: "b", Attempt: 1, Attempts: 1, Note: journal.StateKept, At: h.now()},
		{Kind: journal.StepSucceeded, Step: "c", Attempt: 1, Attempts: 1, At: h.now()},
	}
	h.must(h.s.Append(h.t.Context(), "run-1", "w1", journal.Update{}, add...))
	_, es := h.load("run-1")
	if len(es) != 4 {
		h.t.Fatalf("got %d entries, want 4", len(es))
	}
	if string(es[1].State) != "1" {
		h.t.Fatalf("step a's State: got %q, want %q", es[1].State, "1")
	}
	for _, e := range es[2:] {
		if e.State != nil {
			h.t.Fatalf("step %s's State: got %#v, want nil", e.Step, e.State)
		}
	}
	if es[2].Note != journal.StateKept || es[3].Note != "" {
		h.t.Fatalf("notes: got %q and %q, want %q and none", es[2].Note, es[3].Note, journal.StateKept)
	}
}

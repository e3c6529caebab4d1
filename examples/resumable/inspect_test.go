package main

import (
	"io"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
)

// TestInspectStartsWithTheRun checks that no step of an inspected run
// starts before the run, as the inspect output once showed ("AT -12µs"):
// durable.Inspect took the run's start from the store's clock, at the
// commit of its first write, and the steps' times from the engine's,
// before it.
func TestInspectStartsWithTheRun(t *testing.T) {
	is := is.New(t)
	ws, err := open(t.Context(), io.Discard, t.TempDir())
	is.NoErr(err)
	defer ws.Close()
	is.NoErr(ws.run(t.Context()))

	for _, id := range []string{runID(1), runID(2)} {
		v, err := durable.Inspect(t.Context(), ws.store, id)
		is.NoErr(err)
		for _, s := range v.Report.Steps {
			if !s.Start.IsZero() && s.Start.Before(v.Report.Start) { // a step that never started has no start
				t.Errorf("%s: step %s starts %v before the run", id, s.Name, v.Report.Start.Sub(s.Start))
			}
		}
	}
}

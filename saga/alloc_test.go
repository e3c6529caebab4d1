package saga_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/saga"
)

// Hooks and logging cost nothing when unset: a run makes one allocation,
// its report and the report's steps together, whatever the number of
// steps.
func TestRunAllocations(t *testing.T) {
	is := is.New(t)
	for _, n := range []int{0, 1, 10, 1000} {
		is.Equal(runAllocs(t, benchSaga(n, nil)), 1.0) // steps: n
	}
}

// Hooks add no allocation of their own, nor does a logger that drops the
// run's records (a successful run logs at Debug and Info).
func TestObservedRunAllocations(t *testing.T) {
	is := is.New(t)
	hooks := benchSaga(10, func(b *saga.Builder[counter]) { b.WithHooks(nopHooks()) })
	is.Equal(runAllocs(t, hooks), 1.0) // every hook set
	quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	logged := benchSaga(10, func(b *saga.Builder[counter]) { b.WithLogger(quiet) })
	is.Equal(runAllocs(t, logged), 1.0) // a logger at Warn
}

func runAllocs(t *testing.T, sg *saga.Saga[counter]) float64 {
	var c counter
	return testing.AllocsPerRun(100, func() {
		if _, err := sg.Run(context.Background(), &c); err != nil {
			t.Fatal(err)
		}
	})
}

// Each run has a report of its own, which later runs leave as it was.
func TestReportsAreTheirRuns(t *testing.T) {
	is := is.New(t)
	sg := benchSaga(3, nil)
	var c counter
	first, err := sg.Run(context.Background(), &c)
	is.NoErr(err)
	want := *first
	want.Steps = append([]saga.StepReport(nil), first.Steps...)
	second, err := sg.Run(context.Background(), &c)
	is.NoErr(err)
	is.True(first.RunID != second.RunID)
	is.Equal(first.RunID, want.RunID)
	is.Equal(first.Steps, want.Steps) // untouched by the second run
	for i, s := range second.Steps {
		is.Equal(s.Name, stepName(i))
		is.Equal(s.Status, saga.StepSucceeded)
	}
}

// A saga without steps reports an empty list of steps, not a missing one.
func TestReportOfNoSteps(t *testing.T) {
	is := is.New(t)
	rep, err := benchSaga(0, nil).Run(context.Background(), &counter{})
	is.NoErr(err)
	is.True(rep.Steps != nil)
	b, err := json.Marshal(rep)
	is.NoErr(err)
	is.True(strings.Contains(string(b), `"steps":[]`))
}

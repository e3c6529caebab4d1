package saga_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/saga"
)

func failingOrder() *saga.Saga[trip] {
	return saga.New[trip]().Name("order").
		WithCompensationRetry(once).
		Step("reserve", sleepy("reserve", time.Second), undo("reserve", nil)).
		Step("charge", func(context.Context, *trip) error { time.Sleep(2 * time.Second); return errBoom }, nil).
		Step("ship", do("ship", nil), undo("ship", nil)).
		Build()
}

// Rule 11: the report has the saga's name, run ID, status, times and per
// step status, attempts, times and errors.
func TestReportContents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		start := time.Now()
		rep, err := failingOrder().Run(saga.WithRunID(context.Background(), "run-1"), &trip{})
		is.True(errors.Is(err, errBoom))
		is.Equal(rep.Saga, "order")
		is.Equal(rep.RunID, "run-1")
		is.Equal(rep.Status, saga.StatusCompensated)
		is.True(rep.Start.Equal(start))
		is.Equal(rep.Duration(), 3*time.Second)
		is.Equal(rep.Err, err)

		res, _ := rep.Step("reserve")
		is.Equal(res.Status, saga.StepCompensated)
		is.Equal(res.Attempts, 1)
		is.True(res.Start.Equal(start))
		is.Equal(res.Duration(), time.Second)
		is.Equal(res.Compensation.Attempts, 1)
		is.True(res.Compensation.Start.Equal(start.Add(3 * time.Second)))

		ch, _ := rep.Step("charge")
		is.Equal(ch.Status, saga.StepFailed)
		is.True(ch.Start.Equal(start.Add(time.Second)))
		is.Equal(ch.Duration(), 2*time.Second)
		is.True(errors.Is(ch.Err, errBoom))

		sh, _ := rep.Step("ship")
		is.Equal(sh.Status, saga.StepPending)
		is.Equal(sh.Attempts, 0)
		is.True(sh.Start.IsZero())

		_, ok := rep.Step("nope")
		is.True(!ok)
	})
}

// Rule 11: String prints a readable table.
func TestReportString(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, _ := failingOrder().Run(saga.WithRunID(context.Background(), "run-1"), &trip{})
		got := rep.String()
		// The first lines carry wall-clock stamps; compare from the table on.
		table := got[strings.Index(got, "STEP"):]
		want := `STEP     STATUS       ATTEMPTS  AT  TOOK  ERROR  COMPENSATION
reserve  compensated  1         0s  1s    -      at 3s took 0s, 1 attempt(s)
charge   failed       1         1s  2s    boom   -
ship     pending      0         -   -     -      -
`
		if diff := cmp.Diff(want, table); diff != "" {
			t.Fatalf("table (-want +got):\n%s", diff)
		}
		head := `saga "order" run run-1 compensated in 3s
error:    saga "order": step "charge" failed: boom (compensated)
`
		if !strings.HasPrefix(got, head) {
			t.Fatalf("report starts:\n%s\nwant:\n%s", got, head)
		}
	})
}

// Rule 11: the report marshals to JSON and back.
func TestReportJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		rep, _ := failingOrder().Run(saga.WithRunID(context.Background(), "run-1"), &trip{})
		data, err := json.Marshal(rep)
		is.NoErr(err)
		var m map[string]any
		is.NoErr(json.Unmarshal(data, &m))
		is.Equal(m["saga"], "order")
		is.Equal(m["run_id"], "run-1")
		is.Equal(m["status"], "compensated")
		is.Equal(m["duration_ns"], float64(3*time.Second))
		steps := m["steps"].([]any)
		is.Equal(len(steps), 3)
		charge := steps[1].(map[string]any)
		is.Equal(charge["status"], "failed")
		is.Equal(charge["error"], "boom")
		reserve := steps[0].(map[string]any)
		is.Equal(reserve["compensation"].(map[string]any)["attempts"], float64(1))
		_, hasStart := steps[2].(map[string]any)["start"]
		is.True(!hasStart) // a step that never started has no times

		var back saga.Report
		is.NoErr(json.Unmarshal(data, &back))
		is.Equal(back.String(), rep.String())
	})
}

func TestStatusText(t *testing.T) {
	is := is.New(t)
	is.Equal(saga.StatusCompensationFailed.String(), "compensation_failed")
	is.Equal(saga.StepNotCompensated.String(), "not_compensated")
	is.Equal(saga.Status(99).String(), "status(99)")
	var s saga.Status
	is.NoErr(s.UnmarshalText([]byte("failed")))
	is.Equal(s, saga.StatusFailed)
	err := s.UnmarshalText([]byte("exploded"))
	is.True(err != nil)
	is.True(strings.HasPrefix(err.Error(), "saga: unknown status"))
}

// A run still running has no "ended" line, and its header says so.
func TestStringRunning(t *testing.T) {
	is := is.New(t)
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rep := saga.Report{Saga: "order", RunID: "r-1", Status: saga.StatusRunning, Start: start, End: start.Add(5 * time.Millisecond),
		Steps: []saga.StepReport{{Name: "reserve", Status: saga.StepRunning, Start: start}}}
	out := rep.String()
	is.True(strings.HasPrefix(out, `saga "order" run r-1 running for 5ms`))
	is.True(!strings.Contains(out, "ended:"))
}

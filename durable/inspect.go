package durable

import (
	"context"
	"errors"
	"fmt"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// View is what the journal knows of a run: its header, its entries, and a
// report rebuilt from them: every step of the run's plan, in declaration
// order, with its status (pending if it never started), attempts, times
// and errors. When the store keeps no plan for the run (see
// [journal.Planner]), the report holds only the steps the journal names,
// in the order it first names them.
type View struct {
	Run     journal.Run
	Entries []journal.Entry
	Report  *saga.Report
	// State is the run's newest state snapshot, encoded by its codec.
	State []byte
}

// Inspect loads a run from store and rebuilds its report. It needs no
// registered definition, so operator tools can use it.
func Inspect(ctx context.Context, store journal.Store, runID string) (*View, error) {
	run, entries, err := store.Load(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("durable: inspect %s: %w", runID, err)
	}
	rep := &saga.Report{Saga: run.Saga, RunID: run.ID, Start: run.Created, End: run.Ended, Status: reportStatus(run.Status)}
	if len(entries) > 0 && entries[0].Kind == journal.RunStarted {
		rep.Start = entries[0].At // the run's own clock, which its steps' times share
	}
	if run.Error != "" {
		rep.Err = errors.New(run.Error)
	}
	index := map[string]int{}
	if pl, ok := store.(journal.Planner); ok {
		if p, err := pl.LoadPlan(ctx, run.Fingerprint); err == nil {
			for _, s := range p.Steps {
				index[s.Name] = len(rep.Steps)
				rep.Steps = append(rep.Steps, saga.StepReport{Name: s.Name, Status: saga.StepPending})
			}
		}
	}
	for _, e := range entries {
		if e.Step == "" {
			continue
		}
		i, ok := index[e.Step]
		if !ok {
			i = len(rep.Steps)
			index[e.Step] = i
			rep.Steps = append(rep.Steps, saga.StepReport{Name: e.Step})
		}
		applyEntry(&rep.Steps[i], e)
	}
	if rep.End.IsZero() && len(entries) > 0 {
		rep.End = entries[len(entries)-1].At // still running: its last activity
	}
	return &View{Run: run, Entries: entries, Report: rep, State: newestState(run, entries)}, nil
}

// applyEntry updates a step's report with one journal entry.
func applyEntry(s *saga.StepReport, e journal.Entry) {
	switch e.Kind {
	case journal.StepStarted:
		start := e.At
		if s.Status == saga.StepRunning && !s.Start.IsZero() {
			start = s.Start // the same execution again (woken, or after a crash): it started then
		}
		*s = saga.StepReport{Name: s.Name, Status: saga.StepRunning, Start: start}
	case journal.StepSucceeded:
		s.Status, s.End, s.Attempts = saga.StepSucceeded, e.At, e.Attempts
	case journal.StepFailed:
		s.Status, s.End, s.Attempts, s.Err = saga.StepFailed, e.At, e.Attempts, rebuilt(e.Error)
	case journal.StepCancelled:
		s.Status, s.End, s.Attempts, s.Err = saga.StepCancelled, e.At, e.Attempts, rebuilt(e.Error)
	case journal.CompStarted:
		s.Compensation = &saga.CompensationReport{Start: e.At}
	case journal.CompSucceeded, journal.CompFailed:
		if s.Compensation == nil {
			s.Compensation = &saga.CompensationReport{Start: e.At}
		}
		s.Compensation.End, s.Compensation.Attempts = e.At, e.Attempts
		s.Status = saga.StepCompensated
		if e.Kind == journal.CompFailed {
			s.Status, s.Compensation.Err = saga.StepCompensationFailed, rebuilt(e.Error)
		}
	}
}

// reportStatus maps a journal status to the closest report status.
func reportStatus(s journal.Status) saga.Status {
	switch s {
	case journal.Succeeded, journal.Resolved:
		return saga.StatusSucceeded
	case journal.Compensated:
		return saga.StatusCompensated
	case journal.CompensationFailed:
		return saga.StatusCompensationFailed
	case journal.Paused, journal.Blocked:
		return saga.StatusPaused // waiting for a person
	case journal.Failed, journal.Abandoned:
		return saga.StatusFailed
	}
	return saga.StatusRunning
}

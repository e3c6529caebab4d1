package saga

import (
	"encoding/json"
	"errors"
	"time"
)

// Report describes one run: what happened to the saga and to each step.
// Run always returns one, also on failure. A Report is plain data; it is
// not modified after Run returns.
type Report struct {
	// Saga is the saga's name.
	Saga string
	// RunID identifies the run.
	RunID string
	// Status is the run's final status.
	Status Status
	// Start and End bound the run, compensation included.
	Start, End time.Time
	// Err is the error Run returned (nil on success).
	Err error
	// Steps has one entry per step, in declaration order.
	Steps []StepReport
}

// StepReport is one step's part in a [Report].
type StepReport struct {
	// Name is the step's name.
	Name string
	// Status is the step's final status.
	Status StepStatus
	// Attempts counts the calls of the action (0 if it never started).
	Attempts int
	// Start and End bound the action's attempts (zero if it never started).
	Start, End time.Time
	// Err is the action's error, if it failed.
	Err error
	// Compensation reports the step's compensation; nil when it did not
	// run.
	Compensation *CompensationReport
}

// CompensationReport is the part of a [StepReport] about the step's
// compensation.
type CompensationReport struct {
	// Attempts counts the calls of the compensation.
	Attempts int
	// Start and End bound the compensation's attempts.
	Start, End time.Time
	// Err is the compensation's error, if it failed for good.
	Err error
}

// Duration returns how long the run took.
func (r *Report) Duration() time.Duration { return sub(r.End, r.Start) }

// Duration returns how long the action's attempts took.
func (s *StepReport) Duration() time.Duration { return sub(s.End, s.Start) }

// Duration returns how long the compensation's attempts took.
func (c *CompensationReport) Duration() time.Duration { return sub(c.End, c.Start) }

func sub(end, start time.Time) time.Duration {
	if start.IsZero() || end.IsZero() {
		return 0
	}
	return end.Sub(start)
}

// Step returns the report of the named step.
func (r *Report) Step(name string) (StepReport, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return StepReport{}, false
}

// reportJSON is the wire form of a Report: errors as text, durations in
// nanoseconds beside the times.
type reportJSON struct {
	Saga       string           `json:"saga"`
	RunID      string           `json:"run_id"`
	Status     Status           `json:"status"`
	Start      time.Time        `json:"start"`
	End        time.Time        `json:"end"`
	DurationNS int64            `json:"duration_ns"`
	Error      string           `json:"error,omitempty"`
	Steps      []stepReportJSON `json:"steps"`
}

type stepReportJSON struct {
	Name         string            `json:"name"`
	Status       StepStatus        `json:"status"`
	Attempts     int               `json:"attempts"`
	Start        *time.Time        `json:"start,omitempty"`
	End          *time.Time        `json:"end,omitempty"`
	DurationNS   int64             `json:"duration_ns"`
	Error        string            `json:"error,omitempty"`
	Compensation *compensationJSON `json:"compensation,omitempty"`
}

type compensationJSON struct {
	Attempts   int       `json:"attempts"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	DurationNS int64     `json:"duration_ns"`
	Error      string    `json:"error,omitempty"`
}

// MarshalJSON encodes the report with snake_case keys, errors as their
// text and durations in nanoseconds; zero times of steps are left out.
func (r *Report) MarshalJSON() ([]byte, error) {
	w := reportJSON{
		Saga: r.Saga, RunID: r.RunID, Status: r.Status,
		Start: r.Start, End: r.End, DurationNS: int64(r.Duration()),
		Error: errText(r.Err), Steps: make([]stepReportJSON, len(r.Steps)),
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		w.Steps[i] = stepReportJSON{
			Name: s.Name, Status: s.Status, Attempts: s.Attempts,
			Start: timePtr(s.Start), End: timePtr(s.End), DurationNS: int64(s.Duration()),
			Error: errText(s.Err),
		}
		if c := s.Compensation; c != nil {
			w.Steps[i].Compensation = &compensationJSON{
				Attempts: c.Attempts, Start: c.Start, End: c.End,
				DurationNS: int64(c.Duration()), Error: errText(c.Err),
			}
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON encodes. Errors come back as
// plain errors carrying the original text.
func (r *Report) UnmarshalJSON(data []byte) error {
	var w reportJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*r = Report{
		Saga: w.Saga, RunID: w.RunID, Status: w.Status, Start: w.Start, End: w.End,
		Err: textErr(w.Error), Steps: make([]StepReport, len(w.Steps)),
	}
	for i, s := range w.Steps {
		r.Steps[i] = StepReport{
			Name: s.Name, Status: s.Status, Attempts: s.Attempts,
			Start: timeVal(s.Start), End: timeVal(s.End), Err: textErr(s.Error),
		}
		if c := s.Compensation; c != nil {
			r.Steps[i].Compensation = &CompensationReport{
				Attempts: c.Attempts, Start: c.Start, End: c.End, Err: textErr(c.Error),
			}
		}
	}
	return nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func textErr(s string) error {
	if s == "" {
		return nil
	}
	return errors.New(s)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func timeVal(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

package saga

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// String renders the report as a readable table, in the manner of an
// operator's inspect command:
//
//	saga "order" run 5f0c… compensated in 12ms
//	error:    saga "order": step "charge" failed: card declined (compensated)
//	started:  2026-11-22T10:00:00.000Z
//	ended:    2026-11-22T10:00:00.012Z
//
//	STEP     STATUS       ATTEMPTS  AT     TOOK  ERROR
//	reserve  compensated  1         0s     3ms   -
//	charge   failed       1         3ms    8ms   card declined
//	ship     pending      0         -      -     -
//
// Times are offsets from the run's start. A run still running has no
// "ended" line, and its header tells how long it has run so far (up to
// the report's End, when set: a report rebuilt from a journal sets it to
// the run's last activity).
func (r *Report) String() string {
	var b strings.Builder
	d := r.Duration().Round(time.Microsecond)
	if r.Status == StatusRunning {
		fmt.Fprintf(&b, "saga %q run %s running for %v\n", r.Saga, r.RunID, d)
	} else {
		fmt.Fprintf(&b, "saga %q run %s %s in %v\n", r.Saga, r.RunID, r.Status, d)
	}
	if r.Err != nil {
		fmt.Fprintf(&b, "error:    %v\n", r.Err)
	}
	fmt.Fprintf(&b, "started:  %s\n", stamp(r.Start))
	if r.Status != StatusRunning {
		fmt.Fprintf(&b, "ended:    %s\n", stamp(r.End))
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tATTEMPTS\tAT\tTOOK\tERROR\tCOMPENSATION")
	for i := range r.Steps {
		s := &r.Steps[i]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n",
			s.Name, s.Status, s.Attempts, r.offset(s.Start), took(s.Start, s.Duration()),
			oneLine(s.Err), r.compensation(s))
	}
	tw.Flush()
	return b.String()
}

func (r *Report) compensation(s *StepReport) string {
	c := s.Compensation
	if c == nil {
		return "-"
	}
	out := fmt.Sprintf("at %s took %s, %d attempt(s)", r.offset(c.Start), took(c.Start, c.Duration()), c.Attempts)
	if c.Err != nil {
		out += ": " + oneLine(c.Err)
	}
	return out
}

func (r *Report) offset(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Sub(r.Start).Round(time.Microsecond).String()
}

func took(start time.Time, d time.Duration) string {
	if start.IsZero() {
		return "-"
	}
	return d.Round(time.Microsecond).String()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("2006-01-02T15:04:05.000Z07:00")
}

func oneLine(err error) string {
	if err == nil {
		return "-"
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

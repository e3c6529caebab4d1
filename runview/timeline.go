package runview

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Timeline is a run's steps and compensations laid out in time: the
// data of the timeline view. Its JSON field names are stable.
type Timeline struct {
	RunID  string `json:"run_id"`
	Saga   string `json:"saga"`
	Status string `json:"status"`
	// Started is the run's start, which offsets are measured from.
	Started time.Time `json:"started"`
	// ElapsedMS is the run's length, in milliseconds (see Run.ElapsedMS).
	ElapsedMS float64 `json:"elapsed_ms"`
	// Bars are the actions and compensations that started, by start.
	Bars []Bar `json:"bars"`
}

// Bar is one action or compensation in a [Timeline].
type Bar struct {
	Step string `json:"step"`
	// Phase is action or compensation.
	Phase string `json:"phase"`
	// Status is the action's outcome for an action (the step's status,
	// see Step.Status, except that the action of a step compensated
	// since is succeeded, or failed if it failed), the compensation's for
	// a compensation (running, succeeded, failed).
	Status     string  `json:"status"`
	StartMS    float64 `json:"start_ms"`
	DurationMS float64 `json:"duration_ms"`
	// Open: it has not ended; it lasts up to the run's last activity.
	Open bool `json:"open,omitempty"`
}

// Timeline lays out the run's steps and compensations in time.
func (r *Run) Timeline() Timeline {
	t := Timeline{RunID: r.ID, Saga: r.Saga, Status: string(r.Status), Started: r.Started, ElapsedMS: r.ElapsedMS, Bars: []Bar{}}
	for _, s := range r.Steps {
		if !s.Start.IsZero() {
			t.Bars = append(t.Bars, Bar{Step: s.Name, Phase: "action", Status: actionStatus(s), StartMS: s.StartMS, DurationMS: s.DurationMS, Open: s.End.IsZero()})
		}
		if c := s.Compensation; c != nil {
			t.Bars = append(t.Bars, Bar{Step: s.Name, Phase: "compensation", Status: c.Status, StartMS: c.StartMS, DurationMS: c.DurationMS, Open: c.End.IsZero()})
		}
	}
	slices.SortStableFunc(t.Bars, func(a, b Bar) int { return cmp.Compare(a.StartMS, b.StartMS) })
	return t
}

// actionStatus is the outcome of a step's action, its compensation
// aside.
func actionStatus(s Step) string {
	switch s.Status {
	case "compensated", "compensation_failed", "not_compensated":
		if s.Error != "" {
			return "failed"
		}
		return "succeeded"
	}
	return s.Status
}

// Mermaid returns a Mermaid Gantt chart of the timeline: a section of
// actions and one of compensations, each bar from its start to its end
// on the run's clock (milliseconds; a bar lasts at least one), so that
// steps that ran at once overlap. Failed bars are marked crit, running
// ones active, ended ones done.
func (t Timeline) Mermaid() string {
	var b strings.Builder
	b.WriteString("gantt\n")
	b.WriteString("    title " + ganttText(t.RunID+" ("+t.Saga+") "+t.Status+" in "+Millis(t.ElapsedMS)) + "\n")
	b.WriteString("    dateFormat x\n")
	b.WriteString("    axisFormat %H:%M:%S.%L\n")
	start := t.Started.UnixMilli()
	for _, phase := range []string{"action", "compensation"} {
		first := true
		for i, bar := range t.Bars {
			if bar.Phase != phase {
				continue
			}
			if first {
				b.WriteString("    section " + map[string]string{"action": "steps", "compensation": "compensations"}[phase] + "\n")
				first = false
			}
			from := start + int64(math.Floor(bar.StartMS))
			to := max(start+int64(math.Ceil(bar.StartMS+bar.DurationMS)), from+1)
			name := bar.Step
			if phase == "compensation" {
				name = "undo " + name
			}
			fmt.Fprintf(&b, "    %s (%s) :%s b%d, %d, %d\n", ganttText(name), strings.ReplaceAll(bar.Status, "_", " "), ganttTag(bar), i, from, to)
		}
	}
	return b.String()
}

func ganttTag(bar Bar) string {
	switch {
	case bar.Status == "failed" || bar.Status == "compensation_failed":
		return "crit,"
	case bar.Open:
		return "active,"
	}
	return "done,"
}

// ganttText keeps s from breaking a Gantt line: a colon ends a task's
// name, a '#' starts a comment, a ';' ends a statement.
func ganttText(s string) string {
	return strings.NewReplacer(":", "-", "#", "", ";", ",", "\n", " ").Replace(s)
}

// Text returns the timeline as a bar chart in width columns of bars (at
// least 10), one line per action or compensation ("undo step"), with
// its start offset, duration and status:
//
//	reserve       |██████                                  |     0s  +150ms  compensated
//	charge        |      ████████████                      |  150ms  +300ms  failed
//	undo reserve  |                  ██████                |  450ms  +150ms  succeeded
//
// Bars that overlap ran at once.
func (t Timeline) Text(width int) string {
	width = max(width, 10)
	var b strings.Builder
	fmt.Fprintf(&b, "run %s (%s) %s in %s\n", t.RunID, t.Saga, t.Status, Millis(t.ElapsedMS))
	if len(t.Bars) == 0 {
		b.WriteString("no step started\n")
		return b.String()
	}
	total := t.ElapsedMS
	for _, bar := range t.Bars {
		total = max(total, bar.StartMS+bar.DurationMS)
	}
	names := make([]string, len(t.Bars))
	nameW, offW, durW := 0, 0, 0
	for i, bar := range t.Bars {
		names[i] = bar.Step
		if bar.Phase == "compensation" {
			names[i] = "undo " + bar.Step
		}
		nameW = max(nameW, len([]rune(names[i])))
		offW = max(offW, len(Millis(bar.StartMS)))
		durW = max(durW, len(Millis(bar.DurationMS))+1)
	}
	for i, bar := range t.Bars {
		from, to := 0, width
		if total > 0 {
			from = int(math.Floor(bar.StartMS / total * float64(width)))
			to = int(math.Ceil((bar.StartMS + bar.DurationMS) / total * float64(width)))
		}
		from = min(from, width-1)
		to = min(max(to, from+1), width)
		fill := "█"
		if bar.Phase == "compensation" {
			fill = "▒"
		}
		line := strings.Repeat(" ", from) + strings.Repeat(fill, to-from) + strings.Repeat(" ", width-to)
		status := strings.ReplaceAll(bar.Status, "_", " ")
		if bar.Open {
			status += " (still)"
		}
		fmt.Fprintf(&b, "%-*s  |%s|  %*s  %*s  %s\n", nameW, names[i], line, offW, Millis(bar.StartMS), durW, "+"+Millis(bar.DurationMS), status)
	}
	fmt.Fprintf(&b, "%*s  █ action  ▒ compensation; one column is %s\n", nameW, "", Millis(total/float64(width)))
	return b.String()
}

// Millis formats a number of milliseconds as a duration, rounded to what
// a person reads: "0s", "850µs", "12.3ms", "1.25s", "3m20s".
func Millis(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// Age formats a time since, coarsely: "12s", "5m", "3h20m", "4d".
func Age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(max(d, 0)/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/runview"
)

var allStatuses = []journal.Status{
	journal.Pending, journal.Running, journal.Compensating, journal.Waiting, journal.Paused,
	journal.Succeeded, journal.Compensated, journal.CompensationFailed, journal.Failed,
	journal.Resolved, journal.Abandoned, journal.Blocked,
}

func (a *app) listCommand() *cobra.Command {
	var statuses []string
	var sagaName, since string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Long: `List runs, newest first: ID, saga, status, the step the run stands at
(the failed step of a run that did not end well, the running or waiting one
of an unfinished run), age, duration, and what it waits for.

With --json, an array of rows (see 'go doc github.com/sagakit/sagakit/runview.Row').

` + exitCodesHelp,
		Example: `  sagactl list --status paused,failed,compensation_failed
  sagactl list --saga order --since 2h --limit 20
  sagactl list --status waiting --json`,
		Args: args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := runview.Query{Saga: sagaName, Limit: limit}
			for _, s := range statuses {
				for p := range strings.SplitSeq(s, ",") {
					st := journal.Status(strings.TrimSpace(p))
					if !slices.Contains(allStatuses, st) {
						return fail(exitUsage, "--status %q: want one of %s", p, joinStatuses())
					}
					q.Status = append(q.Status, st)
				}
			}
			if limit < 0 {
				return fail(exitUsage, "--limit must be 0 (no limit) or more")
			}
			now, err := a.now()
			if err != nil {
				return err
			}
			q.Now = now
			if since != "" {
				if q.Since, err = parseSince(since, now); err != nil {
					return err
				}
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			rows, err := runview.List(cmd.Context(), a.store, q)
			if err != nil {
				return a.storeError(err)
			}
			if a.asJSON {
				return printJSON(cmd.OutOrStdout(), rows)
			}
			a.printRows(cmd, rows, now)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&statuses, "status", nil, "only runs in these statuses (comma-separated): "+joinStatuses())
	f.StringVar(&sagaName, "saga", "", "only runs of this saga")
	f.StringVar(&since, "since", "", "only runs started within this long (2h, 30m, 7d) or since this time (RFC 3339)")
	f.IntVar(&limit, "limit", 50, "at most this many runs (0: all)")
	return cmd
}

func joinStatuses() string {
	s := make([]string, len(allStatuses))
	for i, st := range allStatuses {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// parseSince reads --since: a duration back from now (with d for days),
// or a time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fail(exitUsage, "--since %q: want a duration (90s, 2h, 7d) or a time (2026-03-14T09:00:00Z)", s)
	}
	return now.Add(-d), nil
}

func (a *app) printRows(cmd *cobra.Command, rows []runview.Row, now time.Time) {
	w := cmd.OutOrStdout()
	if len(rows) == 0 {
		fmt.Fprintln(w, "no runs")
		return
	}
	color := a.colors()
	var t table
	t.addColored([]string{bold, bold, bold, bold, bold, bold, bold}, "ID", "SAGA", "STATUS", "STEP", "AGE", "DURATION", "INFO")
	for _, r := range rows {
		step := r.Step
		if step == "" {
			step = "-"
		}
		t.addColored([]string{"", "", statusColor(string(r.Status))},
			r.ID, r.Saga, string(r.Status), step, runview.Age(now.Sub(r.Started)), runview.Millis(r.DurationMS), info(r))
	}
	t.write(w, color)
}

// info says what a listed run waits for, or who drives it.
func info(r runview.Row) string {
	var parts []string
	if r.Wait != nil {
		parts = append(parts, waitText(r.Wait))
	}
	if r.Request != nil {
		parts = append(parts, requestText(r.Request.Verb, r.Request.Step)+" requested")
	}
	if r.Lease != nil {
		parts = append(parts, "driven by "+r.Lease.Owner)
	}
	return strings.Join(parts, "; ")
}

// waitText says what a run waits for.
func waitText(w *runview.Wait) string {
	s := "waits for a timer"
	if w.Event != "" {
		s = "waits for " + strconv.Quote(w.Event)
	}
	if !w.Until.IsZero() {
		s += " until " + stamp(w.Until)
	}
	switch {
	case w.Woken:
		s += " (arrived: a worker will carry it on)"
	case w.Due:
		s += " (due: a worker will carry it on)"
	}
	return s
}

func requestText(v journal.Verb, step string) string {
	if v == journal.RetryStep {
		return "retry of " + step
	}
	return string(v)
}

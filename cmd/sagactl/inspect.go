package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/runview"
)

func (a *app) inspectCommand() *cobra.Command {
	var entries bool
	cmd := &cobra.Command{
		Use:   "inspect RUN",
		Short: "Show everything the journal knows of a run",
		Long: `Show a run: status, error, start and end, elapsed time, lease holder,
pending request, what it waits for, the number of its newest journal entry
(what a verb's --seen names), and every step of its plan (those that
never started too) with status, executions, attempts, start offset,
duration, error and compensation; then its state and the operators' notes.
RUN is a run ID, or a prefix of one that no other run has.

--entries prints the raw journal too, each entry with its number. With
--json, the run (see 'go doc github.com/sagakit/sagakit/runview.Run').

` + exitCodesHelp,
		Example: `  sagactl inspect order-1003
  sagactl inspect 0195f3 --entries
  sagactl inspect order-1003 --json | jq .steps`,
		Args: args(1, "one run ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			id, err := a.findRun(ctx, args[0])
			if err != nil {
				return err
			}
			// The text shows the number of entries and the newest's
			// (which a verb's --seen names): it reads the entries, and
			// prints them with --entries only. The JSON has last_seq.
			r, err := runview.Inspect(ctx, a.store, id, runview.Options{Entries: entries || !a.asJSON})
			if err != nil {
				return a.storeError(err)
			}
			if a.asJSON {
				return printJSON(cmd.OutOrStdout(), r)
			}
			printRun(cmd.OutOrStdout(), r, entries, a.colors())
			return nil
		},
	}
	cmd.Flags().BoolVar(&entries, "entries", false, "print the raw journal too")
	return cmd
}

// printRun prints the inspect view of a run.
func printRun(w io.Writer, r *runview.Run, entries, color bool) {
	var head table
	field := func(k, v string) { head.add(k, v) }
	field("run", r.ID)
	field("saga", r.Saga+" (definition "+short(r.Fingerprint)+")")
	head.addColored([]string{"", statusColor(string(r.Status))}, "status", string(r.Status))
	if r.Error != "" {
		field("error", oneLine(r.Error))
	}
	if r.OutcomeUnknown {
		field("decide", fmt.Sprintf("check the effect of the step whose outcome is unknown, then resume or retry it with --seen %d", r.LastSeq))
	}
	field("started", stamp(r.Started))
	if !r.Ended.IsZero() {
		field("ended", stamp(r.Ended))
		field("elapsed", runview.Millis(r.ElapsedMS))
	} else if r.Status.Unfinished() || r.Status == journal.Waiting {
		field("elapsed", runview.Millis(r.ElapsedMS)+" so far (last activity "+stamp(r.LastActivity)+")")
	} else {
		field("stopped", stamp(r.LastActivity))
		field("elapsed", runview.Millis(r.ElapsedMS))
	}
	if r.Lease != nil {
		field("lease", "held by "+r.Lease.Owner+" until "+stamp(r.Lease.Expires))
	} else {
		field("lease", "none (no worker drives it)")
	}
	if q := r.Request; q != nil {
		s := requestText(q.Verb, q.Step) + " requested"
		if !q.Made.IsZero() {
			s += " " + stamp(q.Made)
		}
		if q.Note != "" {
			s += ": " + strconv.Quote(q.Note)
		}
		field("request", s+" (pending: the next worker carries it out)")
	}
	if r.Wait != nil {
		field("wait", waitText(r.Wait))
	}
	if n := len(r.Entries); n > 0 {
		s := fmt.Sprintf("%d entries, the newest is %d", n, r.Entries[n-1].Seq)
		if !r.Status.Final() {
			s += fmt.Sprintf(" (a verb given --seen %d is refused if the run changes)", r.Entries[n-1].Seq)
		}
		field("journal", s)
	}
	for _, s := range r.Signals {
		v := strconv.Quote(s.Event) + " received " + stamp(s.At)
		if s.Delivery != "" {
			v += " (delivery " + s.Delivery + ")"
		}
		if len(s.Payload) > 0 {
			v += ": " + string(s.Payload)
		}
		field("event", v+", not consumed yet")
	}
	head.write(w, color)

	fmt.Fprintln(w)
	var t table
	t.addColored([]string{bold, bold, bold, bold, bold, bold, bold, bold, bold}, "STEP", "KIND", "STATUS", "EXEC", "ATTEMPTS", "AT", "TOOK", "ERROR", "COMPENSATION")
	for _, s := range r.Steps {
		kind := s.Kind
		if kind == "" {
			kind = "?"
		}
		at, took := "-", "-"
		if !s.Start.IsZero() {
			at, took = runview.Millis(s.StartMS), runview.Millis(s.DurationMS)
			if s.End.IsZero() {
				took += " so far"
			}
		}
		errText := "-"
		if s.Error != "" {
			errText = oneLine(s.Error)
		}
		status := s.Status
		if s.Wait != nil {
			status += " for " + waitName(s.Wait.Event)
		}
		t.addColored([]string{"", "", statusColor(s.Status)},
			s.Name, kind, status, strconv.Itoa(s.Executions), strconv.Itoa(s.Attempts), at, took, errText, compensation(s.Compensation))
	}
	t.write(w, color)
	if !r.Planned {
		fmt.Fprintln(w, "(the store keeps no plan for this run: the steps are those its journal names)")
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, paint(color, bold, "state"))
	switch {
	case len(r.State) > 0:
		var b bytes.Buffer
		if json.Indent(&b, r.State, "", "  ") == nil {
			fmt.Fprintln(w, b.String())
		} else {
			fmt.Fprintln(w, string(r.State))
		}
	case len(r.StateBytes) > 0:
		fmt.Fprintf(w, "%d bytes, not JSON (the saga has its own codec)\n", len(r.StateBytes))
	default:
		fmt.Fprintln(w, "none journaled")
	}

	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, paint(color, bold, "notes"))
		var n table
		for _, note := range r.Notes {
			what := requestText(note.Verb, note.Step) + " " + strings.ReplaceAll(note.Event, "_", " ")
			text := note.Text
			if note.Event != "refused" {
				text = strconv.Quote(text)
			}
			n.add(stamp(note.At), what, text)
		}
		n.write(w, color)
	}

	if entries {
		fmt.Fprintln(w)
		fmt.Fprintln(w, paint(color, bold, "journal"))
		var e table
		e.addColored([]string{bold, bold, bold, bold, bold, bold, bold, bold}, "SEQ", "AT", "KIND", "STEP", "EXEC", "ATTEMPTS", "STATUS", "DETAIL")
		for _, en := range r.Entries {
			var detail []string
			if en.Verb != "" {
				detail = append(detail, "verb "+string(en.Verb))
			}
			if en.Error != "" {
				detail = append(detail, "error "+strconv.Quote(oneLine(en.Error)))
			}
			if en.Note != "" {
				detail = append(detail, "note "+strconv.Quote(en.Note))
			}
			switch {
			case len(en.State) > 0:
				detail = append(detail, "state "+compact(en.State))
			case len(en.StateBytes) > 0:
				detail = append(detail, fmt.Sprintf("state %d bytes", len(en.StateBytes)))
			}
			d := strings.Join(detail, " ")
			if d == "" {
				d = "-"
			}
			e.add(strconv.FormatInt(en.Seq, 10), "+"+runview.Millis(msSince(r, en)), string(en.Kind), dash(en.Step),
				dash(itoa0(en.Attempt)), dash(itoa0(en.Attempts)), dash(string(en.Status)), d)
		}
		e.write(w, color)
	}
}

func msSince(r *runview.Run, e runview.Entry) float64 {
	return float64(e.At.Sub(r.Started).Microseconds()) / 1000
}

// compensation describes a step's compensation in a cell.
func compensation(c *runview.Compensation) string {
	if c == nil {
		return "-"
	}
	s := c.Status + " at " + runview.Millis(c.StartMS) + " took " + runview.Millis(c.DurationMS)
	if c.Attempts > 0 {
		s += ", " + strconv.Itoa(c.Attempts) + " attempt(s)"
	}
	if c.Error != "" {
		s += ": " + oneLine(c.Error)
	}
	return s
}

func waitName(event string) string {
	if event == "" {
		return "a timer"
	}
	return strconv.Quote(event)
}

func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func itoa0(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// compact returns JSON on one line, cut to 80 characters.
func compact(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return fmt.Sprintf("%d bytes", len(b))
	}
	s := buf.String()
	if r := []rune(s); len(r) > 80 {
		return string(r[:79]) + "…"
	}
	return s
}

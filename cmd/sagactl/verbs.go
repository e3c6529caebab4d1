package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/runview"
)

// verb is an operator verb's command.
type verb struct {
	name      string
	verb      journal.Verb
	short     string
	long      string
	step      bool           // takes a STEP argument
	needsNote bool           // --note is required
	goal      journal.Status // where the run ends well
}

var verbs = []verb{
	{name: "resume", verb: journal.Resume, goal: journal.Succeeded,
		short: "Carry a stopped run on from where it stopped",
		long: `Ask for a run that stopped (paused, failed, blocked, or compensation_failed)
to be carried on: the step where it stopped runs again, then the rest; a run
in compensation_failed has its failed compensations run again.`},
	{name: "retry", verb: journal.RetryStep, step: true, goal: journal.Succeeded,
		short: "Run one step of a stopped run again, then carry on",
		long: `Ask for STEP of a stopped run to run again, then the rest: STEP must be
where the run stopped; for a run in compensation_failed, only that step's
compensation runs again.`},
	{name: "compensate", verb: journal.Compensate, goal: journal.Compensated,
		short: "Undo what a stopped run did",
		long: `Ask for a run that stopped, or waits for an event, to be compensated now:
every step that may have taken effect is undone, in reverse. Refused once
the run's pivot has succeeded.`},
	{name: "resolve", verb: journal.Resolve, needsNote: true, goal: journal.Resolved,
		short: "Mark a run resolved by hand",
		long: `Record that a person finished the run by hand: it ends as resolved, and
no step or compensation runs. --note is required.`},
	{name: "abandon", verb: journal.Abandon, needsNote: true, goal: journal.Abandoned,
		short: "Give up on a run",
		long: `Give up on a run: it ends as abandoned, what it did stays as it is, and no
step or compensation runs. --note is required.`},
}

// verbJSON is what a verb prints with --json.
type verbJSON struct {
	RunID string       `json:"run_id"`
	Verb  journal.Verb `json:"verb"`
	Step  string       `json:"step,omitempty"`
	Note  string       `json:"note,omitempty"`
	// Requested: the request is recorded, for the next worker.
	Requested bool `json:"requested"`
	// With --wait: what became of it.
	Waited  bool           `json:"waited"`
	Refused string         `json:"refused,omitempty"` // why the worker refused the request
	Status  journal.Status `json:"status,omitempty"`
	Error   string         `json:"error,omitempty"`
	Ended   time.Time      `json:"ended,omitzero"`
	Good    *bool          `json:"ended_well,omitempty"`
}

func (a *app) verbCommand(v verb) *cobra.Command {
	var note string
	var wait bool
	var seen int64
	var timeout time.Duration
	use, argNames, n := v.name+" RUN", "one run ID", 1
	if v.step {
		use, argNames, n = v.name+" RUN STEP", "a run ID and a step's name", 2
	}
	noteHelp := "a note for the journal: why, and what was fixed"
	if v.needsNote {
		noteHelp += " (required)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: v.short,
		Long: v.long + `

sagactl runs no saga code: it records the request in the journal, and the
next worker that claims the run (Engine.Work or Engine.Recover, in a process
that has the saga registered) carries it out, checking it against the run's
status then. --wait follows the run until a worker has carried the request
out and the run has stopped (it ended, or waits for a person again), with a
progress line on a terminal, and exits 1 unless the run ended well
(` + string(v.goal) + `). RUN is a run ID, or a prefix of one that no other
run has.

--seen makes the request a decision about the run as you saw it: give it
the number of the newest journal entry you read (sagactl inspect shows it),
and the request is refused, recording nothing, if the run has changed since
(a worker carried it on, or someone else acted on it): inspect it again
and decide anew.

` + exitCodesHelp,
		Args: args(n, argNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if v.needsNote && strings.TrimSpace(note) == "" {
				return fail(exitUsage, "%s needs --note: say why, for the journal", v.name)
			}
			if timeout < 0 {
				return fail(exitUsage, "--timeout must not be negative")
			}
			if seen < 0 {
				return fail(exitUsage, "--seen must be a journal entry's number, not %d", seen)
			}
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			id, err := a.findRun(ctx, args[0])
			if err != nil {
				return err
			}
			req := journal.Request{Verb: v.verb, Note: note, Seen: seen}
			if v.step {
				req.Step = args[1]
			}
			seq, err := a.request(ctx, id, v, req)
			if err != nil {
				return err
			}
			out := verbJSON{RunID: id, Verb: v.verb, Step: req.Step, Note: note, Requested: true}
			if !wait {
				if a.asJSON {
					return printJSON(cmd.OutOrStdout(), out)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s requested for run %s: the next worker carries it out (sagactl inspect %s, or --wait, to follow it)\n",
					capital(requestText(v.verb, req.Step)), id, id)
				return nil
			}
			return a.follow(cmd, id, seq, v, out, timeout)
		},
	}
	cmd.Flags().StringVar(&note, "note", "", noteHelp)
	cmd.Flags().Int64Var(&seen, "seen", 0, "the newest journal entry you read (sagactl inspect shows entry numbers): the request is refused if the run changed since")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until a worker has carried the request out and the run has stopped")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --wait, give up after this long (0: never)")
	return cmd
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// request checks the request against the run and records it; it returns
// the sequence number of its entry. With req.Seen set, it is refused if
// the run's journal has gone on since that entry.
func (a *app) request(ctx context.Context, id string, v verb, req journal.Request) (int64, error) {
	r, err := runview.Inspect(ctx, a.store, id, runview.Options{})
	if err != nil {
		return 0, a.storeError(err)
	}
	if r.Status.Final() {
		return 0, fail(exitBadState, "run %s %s: there is nothing to %s", id, r.Status.Phrase(), v.name)
	}
	if q := r.Request; q != nil {
		return 0, fail(exitBadState, "run %s has a %s request pending (made %s): a worker has yet to carry it out", id, requestText(q.Verb, q.Step), stamp(q.Made))
	}
	if r.Status == journal.Waiting && (v.verb == journal.Resume || v.verb == journal.RetryStep) {
		return 0, fail(exitBadState, "run %s waits for %s: signal it (sagactl signal), or compensate or abandon it", id, waitName(r.Wait.Event))
	}
	if req.Seen == 0 && (v.verb == journal.Resume || v.verb == journal.RetryStep) {
		// As the engine's verbs: running again a step whose outcome is
		// unknown must be decided on a journal the person names, and
		// any other resume is decided on the journal as read here.
		if r.OutcomeUnknown {
			return 0, fail(exitBadState, "run %s paused on the unknown outcome of a step that is not idempotent, which %s would run again: check the step's effect, then give --seen %d (its newest entry) to say you decided on the run as it stands",
				id, v.name, r.LastSeq)
		}
		req.Seen = r.LastSeq
	}
	if req.Seen != 0 {
		if now := r.LastSeq; req.Seen > now {
			return 0, fail(exitUsage, "--seen %d: run %s has no entry %d (its newest is %d)", req.Seen, id, req.Seen, now)
		} else if req.Seen != now {
			return 0, staleError(id, req.Seen, now)
		}
	}
	if v.step {
		names := make([]string, len(r.Steps))
		for i, s := range r.Steps {
			names[i] = s.Name
		}
		if !slices.Contains(names, req.Step) {
			return 0, fail(exitNotFound, "run %s has no step %q (its steps: %s)", id, req.Step, strings.Join(names, ", "))
		}
	}
	if err := a.store.Request(ctx, id, req); err != nil {
		switch {
		case errors.Is(err, journal.ErrFinal):
			return 0, fail(exitBadState, "run %s has ended: there is nothing to %s", id, v.name)
		case errors.Is(err, journal.ErrPending):
			return 0, fail(exitBadState, "run %s has another request pending: a worker has yet to carry it out", id)
		case errors.Is(err, journal.ErrStale):
			// The run changed between the checks above and the request.
			_, entries, lerr := a.store.Load(ctx, id)
			if lerr != nil {
				return 0, fail(exitBadState, "run %s changed since entry %d: inspect it again and decide anew", id, req.Seen)
			}
			return 0, staleError(id, req.Seen, lastSeq(entries))
		}
		return 0, a.storeError(err)
	}
	_, entries, err := a.store.Load(ctx, id)
	if err != nil {
		return 0, a.storeError(err)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Kind == journal.RequestMade {
			return entries[i].Seq, nil
		}
	}
	return 0, nil
}

// staleError is the refusal of a request decided on entry seen of run
// id's journal, which has gone on to entry now.
func staleError(id string, seen, now int64) error {
	return fail(exitBadState, "run %s changed since entry %d (now at %d): inspect it again and decide anew", id, seen, now)
}

// lastSeq returns the Seq of the newest of entries; 0 for none.
func lastSeq(entries []journal.Entry) int64 {
	if n := len(entries); n > 0 {
		return entries[n-1].Seq
	}
	return 0
}

// follow waits until the request whose entry is seq has been carried out
// and the run has stopped, then reports the outcome.
func (a *app) follow(cmd *cobra.Command, id string, seq int64, v verb, out verbJSON, timeout time.Duration) error {
	ctx := cmd.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	p := &progress{w: a.stderr, on: a.stderrTTY, start: time.Now()}
	defer p.clear()
	poll := 50 * time.Millisecond
	for {
		run, entries, err := a.store.Load(ctx, id)
		if err != nil && ctx.Err() == nil {
			return a.storeError(err)
		}
		if err == nil {
			refusal, done := outcome(run, entries, seq)
			if done {
				p.clear()
				return a.report(cmd.OutOrStdout(), run, v, out, refusal)
			}
			p.show(run, entries)
		}
		select {
		case <-ctx.Done():
			p.clear()
			why := "interrupted"
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				why = "gave up after " + timeout.String()
			}
			if run.Request.Verb != "" {
				return fail(exitBadState, "%s: no worker has taken the %s request on run %s yet; it stays recorded for the next one", why, v.name, id)
			}
			return fail(exitBadState, "%s: run %s %s", why, id, run.Status.Phrase())
		case <-time.After(poll):
		}
		poll = min(poll*3/2, time.Second)
	}
}

// outcome reports whether the request whose entry is seq has been
// carried out (or refused) and the run has stopped being driven, and the
// refusal's reason if it was refused.
func outcome(run journal.Run, entries []journal.Entry, seq int64) (refusal string, done bool) {
	handled := false
	for _, e := range entries {
		if e.Seq > seq && e.Kind == journal.RequestCarriedOut {
			handled = true
			if why, ok := strings.CutPrefix(e.Note, "refused: "); ok {
				refusal = why
			}
		}
	}
	if !handled && run.Request.Verb != "" {
		return "", false
	}
	return refusal, !run.Status.Unfinished() && run.Status != journal.Waiting
}

// report prints what became of a request, and fails unless the run ended
// well.
func (a *app) report(w io.Writer, run journal.Run, v verb, out verbJSON, refusal string) error {
	good := refusal == "" && run.Status == v.goal
	out.Waited, out.Refused, out.Status, out.Error, out.Ended, out.Good = true, refusal, run.Status, run.Error, run.Ended, &good
	if a.asJSON {
		if err := printJSON(w, out); err != nil {
			return err
		}
	} else {
		color := a.colors()
		switch {
		case refusal != "":
			fmt.Fprintf(w, "run %s: the worker refused the %s request: %s\n", run.ID, requestText(v.verb, out.Step), refusal)
		default:
			fmt.Fprintf(w, "run %s %s\n", run.ID, paint(color, statusColor(string(run.Status)), run.Status.Phrase()))
		}
		if run.Error != "" && !good {
			fmt.Fprintf(w, "error: %s\n", oneLine(run.Error))
		}
	}
	if good {
		return nil
	}
	// The outcome is printed; the exit code says it was not the goal.
	return &exitError{code: exitBadState, printed: true, err: fmt.Errorf("run %s %s, not %s", run.ID, run.Status.Phrase(), v.goal)}
}

// progress is the live line --wait shows on a terminal.
type progress struct {
	w     io.Writer
	on    bool
	start time.Time
	n     int
	shown bool
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (p *progress) show(run journal.Run, entries []journal.Entry) {
	if !p.on {
		return
	}
	var what string
	switch {
	case run.Request.Verb != "":
		what = "waiting for a worker to take the " + requestText(run.Request.Verb, run.Request.Step) + " request"
	case run.Status == journal.Waiting:
		what = "waits for " + waitName(run.Wait.Event)
	default:
		what = string(run.Status)
		for i := len(entries) - 1; i >= 0; i-- {
			if s := entries[i].Step; s != "" && entries[i].Kind != journal.RequestMade && entries[i].Kind != journal.RequestCarriedOut {
				what += " · " + s
				break
			}
		}
		if run.LeaseOwner != "" {
			what += " · " + run.LeaseOwner
		}
	}
	elapsed := time.Since(p.start).Truncate(100 * time.Millisecond)
	fmt.Fprintf(p.w, "\r\x1b[K%s %s: %s (%v)", spinner[p.n%len(spinner)], run.ID, what, elapsed)
	p.n++
	p.shown = true
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

func (a *app) signalCommand() *cobra.Command {
	var data, delivery string
	cmd := &cobra.Command{
		Use:   "signal RUN EVENT",
		Short: "Send an event to a run",
		Long: `Send the event EVENT, with --data as its payload (JSON; null when not given),
to a run: a run waiting for it is woken for the next worker, and an event
for which no step waits yet is kept for the first wait. A signal whose
--delivery ID the run has received before records nothing (a retried
delivery is taken once).

` + exitCodesHelp,
		Example: `  sagactl signal order-1004 payment-confirmed --data '{"order":"order-1004","payment_id":"pay-7"}' --delivery wh-123`,
		Args:    args(2, "a run ID and an event's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			payload := []byte("null")
			if data != "" {
				if !json.Valid([]byte(data)) {
					return fail(exitUsage, "--data is not JSON: %s", strconv.Quote(data))
				}
				payload = []byte(data)
			}
			event := args[1]
			if event == "" {
				return fail(exitUsage, "the event's name is empty")
			}
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			s, ok := a.store.(journal.Signaler)
			if !ok {
				return fail(exitStore, "%s keeps no events", a.describe)
			}
			id, err := a.findRun(ctx, args[0])
			if err != nil {
				return err
			}
			recorded, err := s.Signal(ctx, id, journal.Signal{Event: event, Payload: payload, Delivery: delivery})
			switch {
			case errors.Is(err, journal.ErrFinal):
				run, _, lerr := a.store.Load(ctx, id)
				if lerr == nil {
					return fail(exitBadState, "run %s %s: no step will take the event", id, run.Status.Phrase())
				}
				return fail(exitBadState, "run %s has ended: no step will take the event", id)
			case err != nil:
				return a.storeError(err)
			}
			if a.asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]any{"run_id": id, "event": event, "delivery": delivery, "recorded": recorded})
			}
			if recorded {
				fmt.Fprintf(cmd.OutOrStdout(), "Event %q recorded for run %s\n", event, id)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Delivery %s of event %q was recorded for run %s before: nothing changed\n", delivery, event, id)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the event's payload, as JSON")
	cmd.Flags().StringVar(&delivery, "delivery", "", "the delivery's ID: a delivery already recorded for the run is not recorded again")
	return cmd
}

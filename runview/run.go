package runview

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// Run is what the journal knows of one run, for a person or a script:
// the inspect view. Its JSON field names are stable (see the package
// documentation).
type Run struct {
	ID          string         `json:"id"`
	Saga        string         `json:"saga"`
	Fingerprint string         `json:"fingerprint"`
	Status      journal.Status `json:"status"`
	// Error is the error that stopped the run, if any.
	Error string `json:"error,omitempty"`
	// OutcomeUnknown: the run is paused on the unknown outcome of a step
	// that is not idempotent (see durable.PausedOnUnknownOutcome). A
	// resume or retry runs that step again: a person checks its effect
	// first, and names the entry the decision was made on (LastSeq).
	OutcomeUnknown bool `json:"outcome_unknown,omitempty"`
	// Started is when the run started, on the clock of the process that
	// started it (its steps' times share that clock).
	Started time.Time `json:"started"`
	// Ended is when the run ended; zero (omitted) while it has not.
	Ended time.Time `json:"ended,omitzero"`
	// LastActivity is the time of the run's newest journal entry.
	LastActivity time.Time `json:"last_activity"`
	// LastSeq is the Seq of the run's newest journal entry: the journal
	// this view was read from ends there. An operator's decision made on
	// the view names it (journal.Request.Seen), so that it is refused if
	// the run has gone on since.
	LastSeq int64 `json:"last_seq"`
	// ElapsedMS is how long the run took, or has taken up to its last
	// entry (an operator's request recorded since aside), in
	// milliseconds.
	ElapsedMS float64 `json:"elapsed_ms"`
	// Lease is who drives the run now; nil when no one does.
	Lease *Lease `json:"lease,omitempty"`
	// Request is the operator request waiting to be carried out.
	Request *Request `json:"request,omitempty"`
	// Wait is what a waiting run waits for.
	Wait *Wait `json:"wait,omitempty"`
	// Signals are the events sent to the run and not yet consumed.
	Signals []Signal `json:"signals,omitempty"`
	// State is the newest state snapshot, when it is JSON (the default
	// codec's); StateBytes holds it otherwise (base64 in JSON).
	State      json.RawMessage `json:"state,omitempty"`
	StateBytes []byte          `json:"state_bytes,omitempty"`
	// Planned: the store keeps the run's plan, so Steps lists every step
	// of the definition, with its kind and dependencies, those that never
	// started included. Otherwise Steps holds the steps the journal
	// names, in the order it first names them.
	Planned bool `json:"planned"`
	// Sequential: the definition runs one step at a time (no step
	// declares dependencies).
	Sequential bool   `json:"sequential"`
	Steps      []Step `json:"steps"`
	// Notes are the operators' requests on the run, with their notes,
	// oldest first.
	Notes []Note `json:"notes,omitempty"`
	// Entries is the raw journal, when asked for (see [Options]).
	Entries []Entry `json:"entries,omitempty"`

	plan *builder.Plan // the plan drawn: the journaled one, or a chain of the journaled steps
}

// Lease is the lease of the worker driving a run.
type Lease struct {
	Owner string `json:"owner"`
	// Expires is when the lease ends unless renewed, on the store's clock.
	Expires time.Time `json:"expires"`
}

// Request is an operator request waiting to be carried out.
type Request struct {
	Verb journal.Verb `json:"verb"`
	Step string       `json:"step,omitempty"`
	Note string       `json:"note,omitempty"`
	// Made is when the request was recorded (zero if the journal does not
	// say).
	Made time.Time `json:"made,omitzero"`
}

// Wait is what a waiting run or step waits for.
type Wait struct {
	// Event is the event's name; "" for a timer.
	Event string `json:"event,omitempty"`
	// Until is the deadline, on the store's clock; zero for none.
	Until time.Time `json:"until,omitzero"`
	// Woken: the event has arrived and a worker will carry the run on.
	Woken bool `json:"woken,omitempty"`
	// Due: the deadline has passed and a worker will carry the run on.
	Due bool `json:"due,omitempty"`
}

// Signal is an event sent to a run and not consumed yet.
type Signal struct {
	Event    string          `json:"event"`
	Delivery string          `json:"delivery,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
	At       time.Time       `json:"at"`
}

// Step is one step of a run.
type Step struct {
	Name string `json:"name"`
	// Kind is "compensatable", "pivot" or "retriable"; "" when the plan
	// is not known.
	Kind string `json:"kind,omitempty"`
	// After lists the steps it runs after, in a graph saga (the pivot's
	// barrier included); empty in a sequential one, whose steps run in
	// declaration order, and when the plan is not known.
	After []string `json:"after,omitempty"`
	// Status is the step's status: one of saga.StepStatus's names
	// (pending, running, succeeded, failed, compensated,
	// compensation_failed, not_compensated, cancelled), or waiting for a
	// step that waits for an event or a timer.
	Status string `json:"status"`
	// Executions counts the step's executions in the run (0 if it never
	// started): a step runs again as a new execution when an operator
	// retries it or the run is resumed at it.
	Executions int `json:"executions"`
	// Attempts counts the calls of the action in its last execution
	// (retries included), once it ended.
	Attempts int `json:"attempts"`
	// IdempotencyKey is the key of the step's last execution.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Start and End bound the action's last execution; zero (omitted)
	// when it did not start, or has not ended.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// StartMS is the start's offset from the run's start, and DurationMS
	// how long the action took (up to the run's last activity while it
	// runs), in milliseconds; both 0 for a step that never started.
	StartMS    float64 `json:"start_ms"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
	// Wait is what the step waits for, while it does.
	Wait *Wait `json:"wait,omitempty"`
	// Compensation is the step's compensation; nil when it did not run.
	Compensation *Compensation `json:"compensation,omitempty"`
}

// Compensation is a step's compensation.
type Compensation struct {
	// Status is running, succeeded or failed.
	Status     string    `json:"status"`
	Attempts   int       `json:"attempts"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end,omitzero"`
	StartMS    float64   `json:"start_ms"`
	DurationMS float64   `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
}

// Note is an operator's request on a run, as the journal keeps it.
type Note struct {
	At time.Time `json:"at"`
	// Event is requested (the request was recorded), carried_out or
	// refused (a worker carried it out, or refused it: Text says why).
	Event string       `json:"event"`
	Verb  journal.Verb `json:"verb"`
	Step  string       `json:"step,omitempty"`
	Text  string       `json:"note"`
}

// Entry is one raw journal entry.
type Entry struct {
	Seq      int64          `json:"seq"`
	At       time.Time      `json:"at"`
	Kind     journal.Kind   `json:"kind"`
	Step     string         `json:"step,omitempty"`
	Attempt  int            `json:"execution,omitempty"`
	Attempts int            `json:"attempts,omitempty"`
	Status   journal.Status `json:"status,omitempty"`
	Verb     journal.Verb   `json:"verb,omitempty"`
	Error    string         `json:"error,omitempty"`
	Note     string         `json:"note,omitempty"`
	// State is the snapshot the entry carries, when it is JSON;
	// StateBytes otherwise.
	State      json.RawMessage `json:"state,omitempty"`
	StateBytes []byte          `json:"state_bytes,omitempty"`
}

// Options says what [Inspect] reads besides the run's header and steps.
type Options struct {
	// Entries: keep the raw journal in Run.Entries.
	Entries bool
}

// Inspect reads the run runID from store (an exact ID: see [Find]). It
// needs no registered definition. It fails with an error matching
// [journal.ErrNotFound] for an unknown run.
func Inspect(ctx context.Context, store journal.Store, runID string, o Options) (*Run, error) {
	v, err := durable.Inspect(ctx, store, runID)
	if err != nil {
		return nil, err
	}
	plan, err := Plan(ctx, store, v.Run.Fingerprint)
	if err != nil && !errors.Is(err, ErrNoPlan) {
		return nil, err
	}
	var sigs []journal.Signal
	if s, ok := store.(journal.Signaler); ok && !v.Run.Status.Final() {
		if sigs, err = s.Signals(ctx, runID); err != nil {
			return nil, err
		}
	}
	return build(v, plan, sigs, o), nil
}

// build makes the view of a run from what durable.Inspect read, the
// run's plan (nil when unknown) and its unconsumed signals.
func build(v *durable.View, plan *builder.Plan, sigs []journal.Signal, o Options) *Run {
	h, rep := v.Run, v.Report
	r := &Run{
		ID: h.ID, Saga: h.Saga, Fingerprint: h.Fingerprint, Status: h.Status, Error: h.Error,
		OutcomeUnknown: durable.PausedOnUnknownOutcome(h),
		Started:        rep.Start, Ended: h.Ended, Planned: plan != nil,
	}
	if h.Status.Unfinished() || h.Status == journal.Waiting {
		r.Ended = time.Time{} // it ended once, and goes on
	}
	if n := len(v.Entries); n > 0 {
		r.LastActivity, r.LastSeq = v.Entries[n-1].At, v.Entries[n-1].Seq
		if r.Started.IsZero() {
			r.Started = v.Entries[0].At
		}
	} else {
		r.LastActivity = h.Updated
	}
	if r.Started.IsZero() {
		r.Started = h.Created
	}
	end := r.Ended
	if end.IsZero() {
		end = lastOwn(v.Entries, r.LastActivity)
	}
	r.ElapsedMS = ms(end.Sub(r.Started))
	if h.LeaseOwner != "" {
		r.Lease = &Lease{Owner: h.LeaseOwner, Expires: h.LeaseExpiry}
	}
	if h.Request.Verb != "" {
		r.Request = &Request{Verb: h.Request.Verb, Step: h.Request.Step, Note: h.Request.Note}
		for i := len(v.Entries) - 1; i >= 0; i-- {
			if e := v.Entries[i]; e.Kind == journal.RequestMade {
				r.Request.Made = e.At
				break
			}
		}
	}
	if h.Status == journal.Waiting {
		r.Wait = &Wait{Event: h.Wait.Event, Until: h.Wait.Until, Woken: h.Wait.Woken, Due: h.Wait.Due}
	}
	for _, s := range sigs {
		r.Signals = append(r.Signals, Signal{Event: s.Event, Delivery: s.Delivery, Payload: jsonOrNil(s.Payload), At: s.At})
	}
	r.State, r.StateBytes = split(v.State)
	r.Steps, r.plan = steps(r, v, plan)
	r.Sequential = r.plan.Sequential()
	r.Notes = notes(v.Entries)
	if o.Entries {
		for _, e := range v.Entries {
			st, sb := split(e.State)
			r.Entries = append(r.Entries, Entry{
				Seq: e.Seq, At: e.At, Kind: e.Kind, Step: e.Step, Attempt: e.Attempt, Attempts: e.Attempts,
				Status: e.Status, Verb: e.Verb, Error: e.Error, Note: e.Note, State: st, StateBytes: sb,
			})
		}
	}
	return r
}

// steps lists the run's steps: the plan's, in declaration order, then any
// the journal names that the plan does not. It returns the plan to draw
// them with: the journaled one, or else a chain of the steps in the
// order the journal first names them.
func steps(r *Run, v *durable.View, plan *builder.Plan) ([]Step, *builder.Plan) {
	var out []Step
	index := map[string]int{}
	add := func(name string) int {
		if i, ok := index[name]; ok {
			return i
		}
		index[name] = len(out)
		out = append(out, Step{Name: name, Status: saga.StepPending.String()})
		return len(out) - 1
	}
	if plan != nil {
		for i := range plan.Len() {
			d := plan.Decl(i)
			k := add(d.Name)
			out[k].Kind = d.Kind.String()
			if plan.Sequential() {
				continue // it runs after the step before it
			}
			for _, j := range plan.Deps(i) {
				out[k].After = append(out[k].After, plan.Decl(j).Name)
			}
		}
	}
	for _, s := range v.Report.Steps {
		add(s.Name)
	}
	for _, e := range v.Entries {
		if e.Step != "" && e.Kind != journal.RequestMade && e.Kind != journal.RequestCarriedOut {
			add(e.Step)
		}
	}
	for _, s := range v.Report.Steps {
		st := &out[index[s.Name]]
		st.Status = s.Status.String()
		st.Attempts = s.Attempts
		st.Start, st.End = s.Start, s.End
		if !s.Start.IsZero() {
			st.StartMS = ms(s.Start.Sub(r.Started))
			end := s.End
			if end.IsZero() || end.Before(s.Start) {
				end = r.LastActivity
			}
			st.DurationMS = ms(end.Sub(s.Start))
		}
		if s.Err != nil {
			st.Error = s.Err.Error()
		}
		if c := s.Compensation; c != nil {
			sc := &Compensation{Status: "running", Attempts: c.Attempts, Start: c.Start, End: c.End, StartMS: ms(c.Start.Sub(r.Started))}
			end := c.End
			if end.IsZero() {
				end = r.LastActivity
			}
			sc.DurationMS = ms(end.Sub(c.Start))
			switch {
			case c.Err != nil:
				sc.Status, sc.Error = "failed", c.Err.Error()
			case !c.End.IsZero():
				sc.Status = "succeeded"
			}
			st.Compensation = sc
		}
	}
	// What the report does not say: executions, keys and waits.
	for _, e := range v.Entries {
		if e.Step == "" {
			continue
		}
		i, ok := index[e.Step]
		if !ok {
			continue
		}
		st := &out[i]
		switch e.Kind {
		case journal.StepStarted:
			st.Executions = max(st.Executions, e.Attempt)
			st.IdempotencyKey = r.ID + "/" + e.Step + "/" + strconv.Itoa(e.Attempt)
			st.Wait = nil
		case journal.StepWaiting:
			st.Wait = &Wait{Event: e.Note}
		case journal.WaitEnded, journal.StepSucceeded, journal.StepFailed, journal.StepCancelled:
			st.Wait = nil
		}
	}
	for i := range out {
		st := &out[i]
		if st.Wait != nil && st.Status == saga.StepRunning.String() {
			st.Status = "waiting"
			if r.Wait != nil && r.Wait.Event == st.Wait.Event {
				st.Wait = r.Wait
			}
		} else {
			st.Wait = nil
		}
	}
	if plan == nil || plan.Len() != len(out) {
		decls := make([]builder.Decl, len(out))
		for i, s := range out {
			decls[i] = builder.Decl{Name: s.Name}
			if plan != nil {
				if j, ok := plan.Index(s.Name); ok {
					decls[i].Kind = plan.Decl(j).Kind
					decls[i].After = plan.Decl(j).After
				}
			}
		}
		if p, err := builder.Compile(decls); err == nil {
			plan = p
		} else {
			plan, _ = builder.Compile(nil)
		}
	}
	return out, plan
}

// lastOwn returns the time of the newest entry that is not a request
// recorded on the run, or def.
func lastOwn(entries []journal.Entry, def time.Time) time.Time {
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Kind != journal.RequestMade {
			return entries[i].At
		}
	}
	return def
}

// notes lists the operators' requests and what became of them.
func notes(entries []journal.Entry) []Note {
	var out []Note
	for _, e := range entries {
		switch e.Kind {
		case journal.RequestMade:
			out = append(out, Note{At: e.At, Event: "requested", Verb: e.Verb, Step: e.Step, Text: e.Note})
		case journal.RequestCarriedOut:
			n := Note{At: e.At, Event: "carried_out", Verb: e.Verb, Step: e.Step, Text: e.Note}
			if why, ok := strings.CutPrefix(e.Note, "refused: "); ok {
				n.Event, n.Text = "refused", why
			}
			out = append(out, n)
		}
	}
	return out
}

// split returns b as JSON when it is, and as bytes otherwise.
func split(b []byte) (json.RawMessage, []byte) {
	if len(b) == 0 {
		return nil, nil
	}
	if json.Valid(b) {
		return json.RawMessage(b), nil
	}
	return nil, b
}

func jsonOrNil(b []byte) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return json.RawMessage(b)
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 {
	if d < 0 {
		d = 0
	}
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}

// Step returns the step named name.
func (r *Run) Step(name string) (Step, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return Step{}, false
}

// Package runview reads durable runs from a journal into the views an
// operator looks at: a list of runs, one run inspected, its graph and its
// timeline. The sagactl CLI prints them, and a dashboard can render the
// same: the views live here, below both, and neither owns them.
//
// # Model
//
// Everything comes from a [journal.Store] alone: the run's header, its
// journal (read by [durable.Inspect]), and the plan of its definition,
// which stores that implement [journal.Planner] keep once per
// fingerprint. No saga code is needed, and none runs: runview only reads.
//
//   - [List] returns a [Row] per run, newest first, filtered by a [Query]:
//     status, saga, step it stands at, age and duration.
//   - [Find] resolves a run ID, or a prefix of one that only one run has.
//   - [Inspect] returns a [Run]: header, error, times, lease holder,
//     pending request, wait, state, every step of the plan (those that
//     never started as pending) with its status, executions, attempts,
//     times, error and compensation, the operators' notes, and on demand
//     the raw journal.
//   - [Run.Mermaid] and [Run.DOT] draw the run's plan with each step
//     colored by its outcome; [SagaPlan] returns a definition's plan,
//     which [builder.Plan.Mermaid] and [builder.Plan.DOT] draw.
//   - [Run.Timeline] lays the run out in time, for a Mermaid Gantt chart
//     ([Timeline.Mermaid]) or a bar chart in a terminal ([Timeline.Text]).
//
// When the store keeps no plan for a run, the run's steps are those its
// journal names and it is drawn as a chain of them; Run.Planned says
// which.
//
// # JSON
//
// [Row], [Run] and [Timeline] marshal to JSON with stable field names
// (snake_case), which sagactl's --json prints. Times are RFC 3339 with
// nanoseconds, in UTC as the store returns them; a zero time is omitted.
// Durations and offsets are numbers of milliseconds (to the microsecond)
// in fields ending in _ms. Statuses are strings: a run's are
// [journal.Status] values (pending, running, compensating, waiting,
// paused, succeeded, compensated, compensation_failed, failed, resolved,
// abandoned, blocked); a step's are [saga.StepStatus] names (pending,
// running, succeeded, failed, compensated, compensation_failed,
// not_compensated, cancelled) plus waiting. New fields may be added;
// existing ones keep their names and meaning.
//
// A list row:
//
//	{"id": "order-1001", "saga": "order", "status": "paused",
//	 "step": "charge", "error": "…", "started": "…", "ended": "…",
//	 "age_ms": 7200000, "duration_ms": 12.5,
//	 "lease": {"owner": "…", "expires": "…"},
//	 "request": {"verb": "resume", "step": "", "note": "…"},
//	 "wait": {"event": "payment-confirmed", "until": "…", "woken": false, "due": false}}
//
// An inspected run has id, saga, fingerprint, status, error, started,
// ended, last_activity, last_seq (the newest journal entry's number,
// which an operator's request can name: journal.Request.Seen),
// elapsed_ms, lease, request (with made, when it
// was recorded), wait, signals (events received and not consumed:
// event, delivery, payload, at), state (the newest snapshot, as JSON; or
// state_bytes, base64, for another codec), planned, sequential, steps,
// notes and entries. A step has name, kind, after, status, executions,
// attempts, idempotency_key, start, end, start_ms (its offset from the
// run's start), duration_ms, error, wait and compensation (status
// running, succeeded or failed; attempts, start, end, start_ms,
// duration_ms, error). A note has at, event (requested, carried_out or
// refused), verb, step and note. An entry has seq, at, kind, step,
// execution, attempts, status, verb, error, note and state.
//
// A timeline has run_id, saga, status, started, elapsed_ms and bars,
// each with step, phase (action or compensation), status, start_ms,
// duration_ms and open (it has not ended).
package runview

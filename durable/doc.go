// Package durable makes saga runs survive a crash of their process, and
// lets a person inspect a failed run, fix its cause and finish it later.
//
// # Model
//
// An [Engine] journals runs to a [journal.Store] (an in-memory store for
// tests, SQLite as the embedded default). [Register] makes a saga durable
// under its name; [Definition.Run] runs it like [saga.Saga.Run], but
// before each step starts and after it ends the journal records the step,
// its execution number, its outcome and a snapshot of the state (encoded
// by a [state.Codec], JSON by default; a step that leaves the state as
// the newest snapshot has it journals [journal.StateKept] instead, and no
// snapshot bytes). A step's end and the next step's start go out in one
// write, so a run costs one durable commit per step and one for its
// creation, which carries the first step's start; the last step's end
// carries the run's and releases its lease.
//
// Each run is leased to the engine driving it, and the engine renews the
// lease while it works. When a process dies, its leases expire, and
// [Engine.Recover] (or the [Engine.Work] loop of a long-running worker)
// claims its unfinished runs and carries them on from the last journaled
// state, by the definition's [CrashPolicy]: forward, or compensated. A
// step that was running when the process died has an unknown outcome: if
// it is [saga.Idempotent] it runs again with the same idempotency key
// ([IdempotencyKey]), and otherwise it is compensated with everything
// before it — unless it is the pivot without a way back, or the
// definition pauses on failure: then the run pauses for a person
// ([ErrOutcomeUnknown]). A run is resumed only by a definition with the
// same fingerprint (step names, kinds, order, dependencies) as the one
// that started it. A run no worker can drive (its saga is not registered,
// its definition changed, its snapshot cannot be decoded) is set aside
// with status [journal.Blocked] and the reason, so that it never stands
// in the way of other runs; a request moves it on once the right code is
// deployed.
//
// # Starting runs for any worker
//
// [Definition.Run] drives the run in the caller's goroutine. A service of
// several replicas may instead call [Definition.Start], which journals the
// run as pending and returns its ID: whichever worker ([Engine.Work], in
// any process sharing the store) claims it first drives it, and
// [Engine.Wait] returns its outcome. With a run ID of the caller's
// ([saga.WithRunID], say a request ID), Start is idempotent: a retried
// request finds the run it started. A Start wakes the engine's own
// workers at once; stores that implement [journal.Waker] wake the others.
//
// [Engine.Work] drives several runs at once ([WithConcurrency]) and keeps
// claiming while they run. When its context ends, each run stops at its
// next step boundary — a running step is not interrupted, nothing is
// compensated — and its lease is released for another worker.
//
// # Pause, inspect, resume
//
// With [PauseOnFailure], a failed run stops with status paused instead of
// compensating, for a person to finish. The journal holds its
// state, error, and every step with its timing ([Inspect] reads it as a
// [saga.Report]). After fixing the cause, an operator calls
// [Engine.Resume] (the failed step runs again, then the rest),
// [Engine.RetryStep], [Engine.Compensate], [Engine.Resolve] or
// [Engine.Abandon], each with a note kept in the journal. Runs that ended
// in compensation_failed are resumed the same way: their failed
// compensations run again. The sagactl CLI records the same requests
// without running code; the next worker carries them out.
//
// Operator requests are checked against the run's status when they are
// carried out, not when they are made: a request on a run that has ended
// meanwhile is refused and the refusal journaled, and so is a resume or a
// retry made before the run paused on the unknown outcome of a step that
// is not idempotent (it would run that step again on a decision taken
// before its outcome was in question). A decision made on what a person
// read can say so: given [AsOf] and the newest entry they read, a verb is
// refused with [journal.ErrStale], recording nothing, if the run has
// changed since (another person resumed it, and it paused again on
// another cause). A Resume or RetryStep given no AsOf is decided on the
// journal as the verb reads it; on a run paused on the unknown outcome
// of a step that is not idempotent, it is refused with [ErrBadRequest]:
// running that step again needs AsOf, the caller's word that it decided
// on the run as it stands (sagactl's --seen, the dashboard's forms).
// One engine drives a
// run at most once at a time: a verb on a run the engine is driving
// fails with [ErrBusy] and records nothing.
//
// # Guarantees
//
// What a step author can rely on, and what is asked in return:
//
//   - A run is never lost. Once [Definition.Run] has journaled a run, it
//     ends succeeded, compensated, or in a status that waits for a person
//     (paused, failed, compensation_failed, blocked) with the reason in
//     its error: never silently stuck.
//   - One driver at a time. Two engines never advance one run: every
//     journal write checks the writer's lease, down to the grant it came
//     with ([journal.Run.LeaseToken]: fencing), so that a write that
//     reaches the store after the run was granted again, even to the
//     same engine, is refused; and a driver
//     that cannot renew its lease ends the running step's and
//     compensation's context, with [journal.ErrLeaseLost] as the cause, a
//     tenth of the TTL before the lease expires, then writes nothing
//     more. Within one engine, the run is driven by one caller at a time.
//   - Exactly once, as far as the journal goes. A step journaled as
//     succeeded never runs again, nor does a compensation journaled as
//     succeeded; nothing is compensated that never started.
//   - At least once, as far as the world goes. A step whose process died
//     mid-step ran zero or one times; its outcome is unknown. It runs
//     again only if it is [saga.Idempotent] (past the pivot, retriable
//     steps run again as they would on any retry); otherwise it is
//     compensated — the compensation must cope with an action that never
//     happened — or the run pauses for a person. An unknown outcome is
//     never taken for a success. Compensations, too, may run more than
//     once.
//   - The idempotency key. [IdempotencyKey] ("run/step/execution") is the
//     same for the retries of one execution and for its re-run after a
//     crash, and a compensation sees the key of the execution it undoes.
//     Pass it to the services you call; they must take one effect per key
//     and answer a repeat with the first outcome, and undo a key once.
//   - The tombstone. A compensation can reach a service before its action
//     does: a worker sends a request and stalls (a long GC pause, a
//     frozen VM, SIGSTOP) for longer than its lease; another worker takes
//     the run over and compensates it; then the stalled request arrives.
//     A service asked to undo a key it has not seen records a tombstone
//     for that key and refuses the action when it comes.
//
// The window the lease cannot close is a process frozen longer than its
// lease while a request is on the wire: the lease stops everything the
// process does after it wakes (its steps' contexts end at once, its
// journal writes fail, and the driver checks the lease by its own clock
// just before it calls a step or a compensation, so it calls none on a
// lease that ran out while it was frozen), but not a request already
// sent. Idempotency keys
// and tombstones close it on the service's side; package sagatest has a
// Participant that follows these rules, for tests. Choose a lease TTL
// ([WithLeaseTTL]) well above the pauses your processes can suffer.
//
// # Steps at once: graph runs
//
// A saga whose steps declare [saga.After] (a graph saga) runs durably as
// package parallel runs it in memory: a step starts as soon as the steps
// it runs after have succeeded, independent steps at once (at most n of
// one run with [Limit](n)); a failure cancels the running siblings, which
// are reported and journaled as [saga.StepCancelled], and what ran is
// compensated, each step after every step that depends on it, independent
// ones at once. A saga without After runs one step at a time, in plan
// order.
//
// Each step's start is journaled before it runs and its end when it ends,
// as in a sequential run. Steps of one run share commits: a step that
// needs a write while another is in flight waits for the next one, which
// takes everything queued meanwhile, so a fan-out of n steps costs a few
// commits, not 2n.
//
// Snapshots stay consistent because the steps do not share the run's
// state while they run. Each step runs on a fork ([state.Fork]): its own
// copy of the state, decoded from the newest snapshot when the step
// starts. When the step ends, what it changed is merged into the run's
// state, the state is encoded, and the step's end is queued with that
// snapshot, in one critical section; entries go out in the order they
// were queued. Hence:
//
//   - A step sees the effects of the steps that ended before it started
//     (those it runs after among them), and none of those of the steps
//     running beside it.
//   - Every snapshot in the journal holds the effects of exactly the
//     steps journaled as ended before it: never a field half-written,
//     never a change of a step whose end the journal does not hold. The
//     newest one is where recovery carries the run on from.
//   - Each step writes its own fields. A field that several concurrent
//     steps write is a [state.Cell]: the fork records the step's Set,
//     Update and With calls, and the merge replays them on the run's
//     state, so that every step's additions land. The function passed to
//     [state.Cell.Update] or [state.Cell.With] may thus run twice, once on
//     the fork and once on the run's state: it must change nothing but
//     the value (append to a slice, add to a total) and compute from the
//     value it is given. Any other field two concurrent steps change
//     keeps the change merged last.
//   - A failed or cancelled step's changes are merged too, for its
//     compensation, but journaled with no snapshot of their own.
//     Compensations run on the run's state, as in package parallel.
//
// Recovery of a graph run finds every step that was running when its
// process died with an unknown outcome, perhaps several. It restores the
// steps journaled as ended (those that succeeded are not run again: their
// effects are in the newest snapshot) and decodes that snapshot. Under
// [ResumeAfterCrash], if every step of unknown outcome is
// [saga.Idempotent] (or past the pivot), they run again, at once, as the
// same executions with the same idempotency keys, and the rest of the
// graph follows. Such a step keeps its unknown outcome until its re-run
// succeeds: when a sibling's failure cancels the re-run, or stops it
// before it starts, or the saga's deadline cuts it, the first execution
// may have taken effect, so the step is compensated with the rest (under
// that execution's key), whatever [saga.CompensateIfFailed] says, and a
// later recovery runs it again as that execution. A re-run that fails of
// its own is journaled as a failure (the run compensates, or pauses, as
// after any failure), but the step is compensated too: the re-run may
// have failed before it reached the effect its first execution took. The
// same holds one step at a time. If one step of unknown outcome is not idempotent, it
// decides for all of them: the run is compensated, every step that may
// have taken effect included, or it pauses for a person (with
// [PauseOnFailure], or at a pivot with no way back). When the engine
// stops (the context of [Engine.Work] ends), no new step starts; the
// running ones finish, their ends are journaled, and the run is left for
// another worker.
//
// # Waiting for events and timers
//
// A step can wait for an event from outside the run (a payment
// provider's webhook, a person's approval) with [Await], or for time to
// pass with [Sleep], for seconds or for weeks, holding nothing while it
// waits:
//
//	func awaitPayment(ctx context.Context, o *Order) error {
//		p, err := durable.Await[Payment](ctx, "payment-confirmed", 30*time.Minute)
//		if err != nil {
//			return err // the step waits (saga.ErrSuspended), or ErrWaitTimedOut
//		}
//		o.Payment = p.ID
//		return nil
//	}
//
// Await does not block. When the event has not come, it returns an
// error matching [saga.ErrSuspended], and the step returns that error,
// wrapped or not (a step that returns saga.ErrSuspended without having
// waited pauses its run: nothing would wake it). The driver journals the
// run as waiting ([journal.Waiting]), with the event and the deadline,
// and stops: the run holds no goroutine, lease, connection or worker
// slot; [Definition.Run] returns an error matching [ErrWaiting]. When
// [Engine.Signal] delivers the event, or the deadline passes, a worker
// ([Engine.Work] or [Engine.Recover], in any process that shares the
// store) claims the run and runs the step again from its beginning, as
// the same execution: the same attempt and the same idempotency key
// ([IdempotencyKey]). This time Await returns the event's payload,
// decoded from JSON into its type parameter, or an error matching
// [ErrWaitTimedOut], which the step may handle or return (the run then
// fails as for any step error: compensation, or a pause under
// [PauseOnFailure]). Sleep returns nil once its time has passed.
// [Engine.Wait] returns a run's outcome, however long it waits on the
// way.
//
// So what a step author must make idempotent is everything the step does
// before its wait: it runs when the step first waits, again when the run
// is woken, and again should a process die in between. Changes to the
// run's state made before the wait are dropped: the step runs again on
// the snapshot journaled before it started. Best wait first, at the top
// of the step or in a step of its own, and act on the event after it;
// otherwise pass [IdempotencyKey] to the services called before the
// wait. A step may wait more than once: a wait that ended is journaled
// with its outcome, and when the step runs again its Await returns that
// outcome at once, so the code between two waits runs again too. What
// follows the last wait runs as any step body does: once, or again after
// a crash under the same idempotency key.
//
// Deadlines are measured on the store's clock (the database server's for
// PostgreSQL; [journal.WithClock] sets the memory store's), from the
// moment the run is journaled waiting; a wake-up does not move them. A
// deadline that passes while no worker runs fires when one starts; one
// that passes while workers run is found at their next look for runs
// (the interval of [Engine.Work]), not at once. A wait with no deadline
// (timeout <= 0) waits until the event comes or an operator ends it.
//
// Events are sent with [Engine.Signal], which needs no lease and no
// worker: the store records the event for the run and, if the run waits
// for it, wakes it. An event that comes before the step waits for it is
// kept, and consumed by the first wait for it; each event is consumed
// once, by one wait, and its consumption is journaled with the wait's
// end (a step whose process dies before that takes the event again when
// it runs again). Two signals are two events, unless they carry the same
// delivery ID ([Delivery]): a signal whose delivery ID the run has
// received before records nothing and returns nil, so a webhook retried
// while the run is unfinished changes nothing and is answered as the
// first delivery was. Signal fails with an error matching
// [journal.ErrNotFound] for an unknown run and [journal.ErrFinal] for a
// run that has ended, even for the retry of a delivery the run took: a
// handler that must answer such a retry as before looks at the run's
// state (see examples/payment). Waits and signals need a store that
// implements [journal.Signaler] (the memory store, SQLite and PostgreSQL
// do); otherwise Await, Sleep and Signal fail with [ErrNotDurable], as
// Await and Sleep do outside a step of a durable run.
//
// Operators: [Engine.Compensate] on a waiting run cancels the wait and
// compensates the run, the waiting step included (it may have taken
// effect before its wait: its compensation must cope with a step that
// did nothing); [Engine.Abandon] and [Engine.Resolve] end it and cancel
// the wait too. [Engine.Resume] and [Engine.RetryStep] are refused with
// [ErrBadRequest]: signal the run instead. In a graph run, a step that
// waits holds only the steps that run after it: the others go on, and the
// run is journaled waiting once they have ended. A graph run waits for
// one event or timer at a time: when two of its steps wait at once, the
// run pauses, with an error that says so.
//
// # One trace across processes
//
// [WithPropagator] journals values of a new run's context with the run
// (a trace context, most often) and puts them back into the run's
// context each time a worker drives it again: after a crash, when a
// signal or timer wakes it, to carry out an operator's request. A run
// traced by the saga's hooks thus stays one trace, whichever processes
// drive it. The engine knows nothing of what the values mean; the nested
// module otelsaga provides them for OpenTelemetry, with spans and
// metrics of runs, steps, compensations and the journal.
package durable

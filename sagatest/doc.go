// Package sagatest helps test sagas, and the services their steps call,
// against what can go wrong: a step that fails, panics or hangs, a
// compensation that fails, and a process that dies at any point of a
// durable run.
//
// # Model
//
// A saga promises that a run either completes or undoes, in reverse,
// what its steps did; a durable run ([durable]) promises it across
// crashes, executing steps and compensations at least once. A test of a
// saga therefore wants three things: to make something go wrong at a
// chosen place, to run what comes after (compensation, recovery by
// another process), and to check the outcome — not only the run's
// status, but what the steps did to the world.
//
// # Faults in steps
//
// A [Recorder] wraps a saga's actions and compensations where the saga
// is built, and records every call:
//
//	var rec sagatest.Recorder[Order]
//	sg := saga.New[Order]().Name("order").
//		Step("reserve", rec.Action("reserve", reserve), rec.Compensation("reserve", release)).
//		Step("charge", rec.Action("charge", charge), rec.Compensation("charge", refund)).
//		Build()
//
// The test then chooses a fault per step: [Recorder.FailAt],
// [Recorder.PanicAt], [Recorder.HangAt] (the action waits until its
// context ends: a timeout, a cancellation, a lost lease),
// [Recorder.DelayAt] and [Recorder.FailCompensationAt]; [Recorder.Heal]
// removes them, as a person fixes a cause before resuming a paused run.
// A saga built by your own code takes the Recorder's wrappers where it
// takes its steps' functions (the services it calls, say).
//
// After the run, [Recorder.AssertCompensated] checks that every step that
// took effect was compensated exactly once, and in reverse: a step after
// the steps that ran after it (in a graph, after the steps that depend
// on it). [Recorder.Calls] lists the calls, for checks of your own.
//
// # Crashes
//
// A [CrashingStore] wraps the journal store of a process that is to die,
// at a journal write chosen by number or by the entry it carries:
// before a step's end ([journal.StepSucceeded]: the step took effect,
// the journal does not know), after a step's start ([journal.StepStarted]:
// the step never ran), in the middle of compensating
// ([journal.CompSucceeded]), when a step starts to wait for an event
// ([journal.StepWaiting]) or once it is woken ([journal.WaitEnded]). From
// that write on, the process writes nothing: its runs stay unfinished and
// leased to it, as after a real crash.
//
// # Recovery
//
// Another engine on the store the CrashingStore wraps plays the process
// that starts next. [Recover] waits until the dead process's leases have
// expired — on a [Clock] the store reads its time from, which it moves
// forward, or inside a [testing/synctest] bubble — and has the engine
// recover the runs, reporting what it could not drive.
//
// # The participant pattern
//
// Durable runs execute steps and compensations at least once: after a
// crash, a step whose outcome was lost runs again, and a compensation can
// reach a service before the action it undoes (the action was sent, the
// process stalled past its lease, another worker compensated the run,
// then the stalled action arrived). A service keeps the run whole if it
//
//   - takes an action's effect once per idempotency key
//     ([durable.IdempotencyKey] in the step's context), and answers a
//     repeat with the first outcome;
//   - undoes the effect of a key once, and answers a repeated undo as
//     done;
//   - when asked to undo a key it has not seen, records a tombstone for
//     it and refuses the action if it arrives later.
//
// [Participant] is an in-memory service that behaves so, for tests: steps
// call [Participant.Do] and compensations [Participant.Undo] with the key
// from their context, and the test checks with [Participant.InEffect]
// (what remains done), [Participant.Status] and [Participant.Err] (keys
// that were missing or overlapping calls) that the run left the world as
// it promised. Its rules are the ones a real service must follow. Where
// a Recorder counts calls (a compensation that ran again after a crash
// counts twice), a Participant counts effects.
package sagatest

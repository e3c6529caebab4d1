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
// by a [state.Codec], JSON by default). A step's end and the next step's
// start go out in one write, so a run costs one durable commit per step.
//
// Each run is leased to the engine driving it, and the engine renews the
// lease while it works. When a process dies, its leases expire, and
// [Engine.Recover] (or the [Engine.Work] loop of a long-running worker)
// claims its unfinished runs and carries them on from the last journaled
// state, by the definition's [CrashPolicy]: forward, or compensated. A
// step that was running when the process died has an unknown outcome: if
// it is [saga.Idempotent] it runs again with the same idempotency key
// ([IdempotencyKey]), and otherwise it is compensated with everything
// before it. A run is resumed only by a definition with the same
// fingerprint (step names, kinds, order, dependencies) as the one that
// started it; otherwise recovery refuses with [ErrDefinitionChanged].
//
// # Pause, inspect, resume
//
// With [PauseOnFailure], a failed run stops with status paused instead of
// compensating, as resumable_transaction does. The journal holds its
// state, error, and every step with its timing ([Inspect] reads it as a
// [saga.Report]). After fixing the cause, an operator calls
// [Engine.Resume] (the failed step runs again, then the rest),
// [Engine.RetryStep], [Engine.Compensate], [Engine.Resolve] or
// [Engine.Abandon], each with a note kept in the journal. Runs that ended
// in compensation_failed are resumed the same way: their failed
// compensations run again. The sagactl CLI records the same requests
// without running code; the next worker carries them out.
//
// Durable runs are sequential: steps run one at a time in plan order.
package durable

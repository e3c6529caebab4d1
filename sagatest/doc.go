// Package sagatest helps test sagas and the services their steps call.
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
// it promised. Its rules are the ones a real service must follow.
package sagatest

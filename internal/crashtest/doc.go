// Package crashtest holds sagakit's durability tests: sagas run in a child
// process that is killed with SIGKILL at a chosen point, and a second
// engine recovers what the journal kept. The package has no code of its
// own; everything is in its tests.
//
// # How a test goes
//
// The test binary re-executes itself as the child (TestChild, selected
// by the SAGAKIT_CRASH_CHILD environment variable, which carries the
// plan). The child opens a journal/sqlite file, registers a saga of five
// steps, and runs six orders: two one after the other, then four at once.
// Each action and compensation records its effect in a ledger, an
// append-only file that stands for the outside world ("do", "undo"), and
// the child kills itself with SIGKILL at the planned point:
//
//   - just before, or just after, a given journal write of a given run (a
//     journal.Store wrapper around Create and Append);
//   - in the middle of a step: after its effect, before it returns;
//   - in the middle of a compensation, likewise;
//   - at a point chosen by a seed among all of the above.
//
// The parent checks that the child died of SIGKILL, opens the same file
// with a clock an hour ahead (so that the dead child's leases have
// expired without sleeping), registers the same saga in a new engine and
// calls Engine.Recover until no run is left. Then the journal and the
// ledger must agree that every run ended either succeeded (every step
// took effect once, nothing undone) or compensated (every effect undone,
// once), that no step was compensated that never started, that no effect
// is missing from the journal, and that an idempotent step run again
// after the crash used the same idempotency key, so that the ledger,
// which deduplicates on the key, holds its effect once. What each run
// must end as follows from its journal at the crash and the crash policy
// (see expect in check_test.go).
//
// # A crash during an operator's resume
//
// TestCrashDuringResume registers the saga with durable.PauseOnFailure and
// uses three processes. A first child runs two orders that pause at a
// step which fails because a flag file says so (a cause outside the
// saga's state, which a person can fix). A second child fixes the cause
// (removes the file) and calls Engine.Resume on one of them, and dies
// before the request is carried out, before the resumed step's start is
// journaled, in the resumed step after its effect, before its end is
// journaled, or after its end went out with the next step's start. The
// parent recovers as above and checks that the resumed run ended as the
// steps' idempotency requires (the saga pauses on failure, so the crash
// policies do not apply: recovery goes forward when every outcome is
// known, runs an idempotent step again, and pauses the run when a step
// that is not idempotent has an unknown outcome; the parent then acts as
// the person and compensates it, that step included), each effect once, the
// request made and carried out once, the resumed step's re-run under the
// key of its second execution ("run/step/2", kept if it runs again after
// the crash), nothing compensated that never took effect, and the other
// paused run left alone.
//
// The tests need a Unix system; elsewhere they skip.
package crashtest

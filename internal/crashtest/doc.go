// Package crashtest holds sagakit's durability tests: sagas run in a child
// process that is killed with SIGKILL at a chosen point, and a second
// engine recovers what the journal kept; or several live processes share
// one journal while one of them is frozen with SIGSTOP, or while they race
// operator verbs against each other. The package has no code of its own;
// everything is in its tests.
//
// # How a test goes
//
// The test binary re-executes itself as the child (TestChild, selected
// by the SAGAKIT_CRASH_CHILD environment variable, which carries the
// plan). The child opens the journal the plan names (see "On every fleet
// store" below), registers a saga of five steps, and runs six orders: two one after the other, then four at once.
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
// The parent checks that the child died of SIGKILL, opens the same
// journal with a clock an hour ahead (sqlite.WithClock, postgres.WithNow:
// the dead child's leases have expired without sleeping), registers the same saga in a new engine and
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
// # On every fleet store
//
// Every scenario of TestCrashBeforeWrite, TestCrashAfterWrite,
// TestCrashInStep, TestCrashInCompensation, TestCrashAtRandom,
// TestCrashDuringResume and the fan-out tests (see "Fan-out" below) runs
// once per fleet store (fleetstore_test.go), in
// a subtest named by its kind: sqlite always, and postgres when
// SAGAKIT_POSTGRES_DSN names a database (with SAGAKIT_REQUIRE_POSTGRES=1,
// as in CI, a missing DSN fails them), e.g.
// TestCrashInStep/postgres/idempotent/resume. Each scenario has a journal
// of its own: a SQLite file in its temporary directory, or a PostgreSQL
// schema whose name holds the test process's ID, a counter and random
// bits, dropped when the scenario is done. Its children open it as
// plan.Store says; the parent reopens it with a clock an hour ahead
// (openFleetStoreWithClock). On PostgreSQL, the children's leases are on
// the database's clock and the parent's store reads the test's
// (postgres.WithNow): an hour's lead covers any skew between the two short
// of an hour. The server still carries out a statement a child sent just
// before it died, its last commit above all, and notices the death only
// when it answers: the child's connections carry an application_name of
// their own, and the parent reads the journal once none of them is left
// (settleChild). The checks are the same on both, and the ledger and the flag
// file stay files. TestCrashAtRandom tries its 8 seeds on both, under the
// race detector too (the PostgreSQL scenarios take about half a second
// each, and the package stays well under 100 s under -race on two cores).
//
// # Fan-out
//
// The fan-out tests (fanout_test.go, fanout_check_test.go) crash a graph
// saga: debit, then flight, hotel and car at once (saga.After), then
// confirm once all three have succeeded. car is not idempotent; the other
// steps are. The child, told so by plan.Saga, runs six trips as it runs
// the orders (two one after the other, then four at once): three succeed,
// two fail at hotel (so that flight's and car's compensations run at
// once, then debit's) and one at confirm (the three siblings'
// compensations at once). Each step runs on a fork of the state and adds
// its idempotency key to a Cell in it.
//
// In the child the siblings are paced so that several are always in
// flight when the kill comes, whatever the machine's speed: each waits
// until all three have started; flight and hotel wait until car's end is
// journaled (the child's store tells them), then take their effect and
// wait for each other; sibling compensations wait until all of them have
// started, then for each other to have undone their effects. A sibling
// arrives at a meeting only after its own kill point, so that one killed
// in its middle holds the others in theirs; a meeting that does not
// happen within 20 seconds ends the child with an exit code of its own.
// The kill points are those of the orders:
//
//   - TestFanoutCrashAtWrite: before, and after, each journal write of
//     trip-4 (hotel fails), by index from 1 to 14. The run writes 12
//     times as a rule, but steps' ends go out with later writes or on
//     their own, and concurrent starts and ends share writes or not, as
//     they come: a point past the run's last write is not reached, and
//     the child must then exit without a crash (up to the 9th write, the
//     fewest the run can make, it must die), and the trips are checked
//     all the same. With PostgreSQL, each point runs once per store,
//     under one crash policy on SQLite and the other on PostgreSQL, so
//     that every point runs on both stores and under both policies; on
//     SQLite alone, under both.
//   - TestFanoutCrashInStep: in car's middle while flight and hotel wait
//     for it (three steps of unknown outcome, one not idempotent: the
//     trip is compensated under either policy); in flight's middle, after
//     car ended, while hotel runs (both idempotent: under
//     ResumeAfterCrash, both run again under their keys and the trip
//     succeeds); the same in trip-4, whose hotel then fails again.
//   - TestFanoutCrashInCompensation: in flight's compensation while car's
//     runs, in hotel's while flight's and car's run (trip-6, confirm
//     failed), and in debit's once theirs have ended.
//   - TestFanoutCrashAtRandom: at a point chosen by a seed among all the
//     child passes (2 seeds).
//
// The scenarios with a known point also check what the journal showed of
// the run at the crash (its status, the steps and compensations started
// and not ended) and what it ended as. Recovery and the checks are the
// orders', for every trip (checkTrip): each trip ends succeeded (every
// step took effect once, under its first execution's key) or compensated
// (every effect undone, once), as its journal at the crash and the policy
// say — under ResumeAfterCrash, a running trip is compensated if one of
// its steps of unknown outcome is not idempotent, or if it is meant to
// fail; nothing was undone that never took effect; no step ran as a
// second execution; and every snapshot in the journal holds exactly the
// keys of the steps journaled as succeeded before it, across the crash,
// and the header's state is the newest snapshot once the trip has ended.
// The ledger's lines agree, in order: a step took effect only after the
// steps it runs after took theirs, and was undone only after the steps
// that depend on it were. Every action and compensation also writes its
// begin and end to a trace, a file the child and then the parent append
// to; checkTrace reads it in order: the child's lines all come before
// recovery's, and no step (or compensation) of a trip is executed twice
// at once; a step begins only after the steps it runs after ended with
// success; a step's compensation begins only after the compensations of
// the steps that depend on it ended (the last execution of each that
// began before it: a compensation the child died in is run again by
// recovery before); and recovery executes nothing the journal at the
// crash showed ended.
//
// A graph run journals a step's failure in a write of its own, before the
// write that starts compensating: a process that dies in between leaves a
// running run whose journal holds the failure, which recovery must carry
// on (compensate) without running the failed step again. The kills at
// writes of trip-4 reach that window (hotel failed, compensation not
// started), and the random ones may in any trip that fails.
//
// The 88 fan-out tests (56 at writes, 12 in steps, 12 in compensations,
// 8 at random) run three at a time per store, more than -parallel: each
// mostly waits for the child's fsyncs and for the database.
//
// # A backlog of runs no worker can drive
//
// TestCrashWithUndrivableBacklog (backlog_test.go) puts into the journal,
// before the child runs, runs older than the child's and more than a
// Recover batch that no worker can carry on: their saga is not
// registered, their fingerprint is an older definition's, or their state
// snapshot does not decode, left running or compensating by a dead worker
// (created through the store's Create); one more has a pending Resume
// (refused: its saga is not registered), another a pending Abandon
// (carried out: it needs no definition). After the crash, recovery must
// set each of them aside once (journal.Blocked, the reason in its error,
// a journal.RunBlocked entry keeping the status it had), recover every
// one of the child's runs as checkRun wants, and claim nothing more
// afterwards, in this worker or another. It journals to SQLite only.
//
// # Several live processes
//
// The fleet tests (fleet_test.go) start the test binary as long-lived
// processes (TestFleetChild, selected by SAGAKIT_CRASH_CHILD like
// TestChild, with a role in its plan): workers and operators on one
// SQLite journal. Each process logs what it does to an event log of its
// own, one line per write(2): every journal call and its outcome (a
// journal.Store wrapper: which entries it wrote, by their times, which
// runs it claimed, which leases it renewed), its runs' ends, what its
// steps saw. The outside world is a participant on a SQLite file of its
// own (participant_test.go), safe for any number of processes, which
// follows the pattern step authors are told to follow: an action's effect
// is taken once per idempotency key, in the transaction that checks the
// key; a compensation undoes the step's effects and leaves a tombstone on
// the step, so that an action arriving after its compensation is
// refused. It records every call with its caller and time, and notices
// two executions of one step of one run at once.
//
// # The zombie window
//
// TestZombieWindow (zombie_test.go) runs two workers with a lease of one
// second. Worker 1 runs six runs at once, each of which reaches a part of
// a step or compensation that is slow in worker 1 only: aware parts wait
// for their context, blind ones (a call on its way to the outside world
// when the process froze) wait for the thaw whatever their context says.
// The parent freezes worker 1 with SIGSTOP, at a moment when it holds
// neither file's write lock (it probes the lock while worker 1 is
// stopped, and lets it go on and tries again if worker 1 holds one),
// waits until worker 2 (Engine.Work) has claimed every run after its
// lease expired and finished it (re-run under the same key, or
// compensated) and at least 2.5 TTLs have passed, then thaws worker 1
// with SIGCONT. It checks that each run ended as it must (succeeded or
// compensated) and the world agrees, each step taking effect once; that
// the only executions at once were the window's (in each run, worker 2
// ran the step worker 1 was frozen in, or its compensation, while worker
// 1's execution was in progress); that the journal holds no entry of
// worker 1 after worker 2's first, and that
// every journal call worker 1 began after the thaw was refused; that
// worker 2 claimed no run before worker 1's lease on it could have
// expired; that worker 1's runs stopped with journal.ErrLeaseLost, and
// its aware parts saw their context end with it and made no effect; and
// that every call worker 1 made to the world after the thaw was
// deduplicated by its key or refused by a tombstone (or found its undo
// done), at most one per blind part. It logs the window: how long after
// SIGCONT each slow part's context ended, when each late call went out
// and what became of it, and when worker 2 took each run over. It asserts
// no duration.
//
// # Operator verbs from two processes
//
// TestConcurrentVerbs (verbs_test.go) pauses six runs (PauseOnFailure,
// a flag file breaking their ship step) and fixes the cause of four.
// Then two operator processes wait at a barrier (a file) while a worker
// process drives three live runs, with slow steps, and runs Engine.Work.
// At the barrier, both operators fire, each verb in a goroutine of its
// own, Resume, RetryStep, Compensate, Abandon and Resolve at the same runs
// (the live ones included, and twice at one run from one engine). When
// everything has settled, the parent stops the worker and checks that
// every run is in one final or person-needed status, with nothing pending
// and nothing after its end but refusals; that the live runs, which their
// worker held throughout, succeeded; that the world agrees with each
// run's journal; that no step or compensation of a run ran twice at once;
// and that each verb did what it asked (nil), or recorded nothing
// (journal.ErrFinal, durable.ErrBusy, journal.ErrPending), or had its
// request answered once, carried out or refused, by whoever drove the run
// next; and that no two requests on a run were ever open at once.
//
// The journal holds one pending request per run, and refuses a second
// (journal.ErrPending) until the first is carried out: otherwise a
// request made while another is open would replace it, or be cleared when
// the other is recorded as carried out, neither carried out nor refused.
// TestRacingRequestRefused and TestRequestWhileAnotherIsCarriedOut
// (requests_test.go) drive both orders deterministically.
//
// # A fleet draining a backlog
//
// TestFleetDrain (drain_test.go, drain_check_test.go) runs a producer
// process that journals 2,000 runs of a five-step saga with
// Definition.Start (200 under the race detector, which makes SQLite
// several times slower: race_test.go, norace_test.go), under IDs of its
// own, some sent twice as a retrying client would, and four worker
// processes that drain them with Engine.Work (eight runs at once each, a
// lease of one second). When a third of the runs have ended, the parent
// kills one worker with SIGKILL in the middle of its runs and starts
// another process, under a new owner name, in its place; when every run
// has ended, it stops the workers with SIGTERM (Work must return with its
// context's end, and the process exit cleanly). Every step is idempotent,
// so every run must succeed: the journal holds the 2,000 runs, each
// succeeded with every step once and nothing left pending; the
// participant took each step's effect once, under the key of the step's
// first execution, the re-runs of the killed worker's steps deduplicated;
// the killed worker's runs were taken over by the others; and each run
// had one driver at a time. A step records its effect and its execution
// (when it began and ended) in one transaction of the participant
// (drain_world_test.go), so that the figures measure the fleet more than
// the participant; executions of one step whose times meet are overlaps.
//
// Runs change hands without a kill too: four processes on one SQLite file
// wait for its lock, and SQLite's busy handler, which sleeps longer and
// longer between tries, lets one process wait for seconds while the
// others commit, longer than a renewal can wait under a one-second lease.
// The test checks every handover, after a kill or such a stall: the next
// driver claimed the run once the old lease could have ended (a TTL after
// the old driver's last claim or renewal began, or its release), the
// store took no write of the old driver after that claim, the journal's
// entries go from one driver to the next and never back, every execution
// of a step began in a process that held the run, and two executions of
// a step at once ran under two claims, the first one lost (the window
// durable's Guarantees describe). It logs the figures: wall time, runs
// per second, the latency from Start to end, the runs the killed worker
// had in flight and who took them over how soon, the handovers after
// stalls, and how long the workers' journal calls took.
//
// The test runs once per fleet store (fleetstore_test.go), as the crash
// scenarios do: on SQLite, and on PostgreSQL when SAGAKIT_POSTGRES_DSN
// names a database, in a schema of its own that is dropped when done
// (with SAGAKIT_REQUIRE_POSTGRES=1, as in CI, a missing DSN fails it).
//
// TestReclaimedWhileBusy (reclaim_test.go) keeps closed a window
// TestFleetDrain came across: a driver that released its run's lease
// before its engine stopped counting the run as driven let the engine's
// own Work claim the run in between, find it busy (durable.ErrBusy) and
// leave it leased and idle until the lease expired. Drivers now stop
// counting the run first, then release it.
//
// # The chaos campaign
//
// TestChaos (chaos_test.go, chaos_child_test.go, chaos_world_test.go,
// chaos_check_test.go, chaos_pg_test.go) puts everything above together,
// at random: a controller starts runs of four sagas (sequential,
// sequential compensated after a crash, a graph, and one that pauses on
// failure; some wait for an event or a timer, some fail at a step) with
// Definition.Start, while three worker processes run Engine.Work on one
// journal and an operator process fires verbs and signals at runs that
// are not over. From a deck shuffled anew each round, the controller
// kills a worker (SIGKILL) and starts another in its place, freezes one
// (SIGSTOP) past its lease and thaws it, opens a window of disk write
// errors in one (it lowers its own RLIMIT_FSIZE, so that SQLite's writes
// fail with EFBIG), restarts the campaign's own PostgreSQL cluster (in a
// temporary directory, on a free port; never the shared server) in fast
// or immediate mode, or terminates the campaign's connections. Then the
// operator stops, the controller signals the waiting runs and answers
// the paused ones as a person would, the workers drain what is left, and
// the checker reads the journal and the execution ledger (every action's
// and compensation's execution, with its process, key, outcome and
// times, and every effect) and reports each violation: a run neither
// completed, compensated, nor ended by an operator; an effect standing
// in a compensated run, or not standing once in a succeeded one; a step
// compensated that never started; a compensation journaled twice, or run
// after its success was journaled, and a step likewise; an effect taken
// twice under one key by a step that is not idempotent; two executions of
// a step at once, other than in the frozen-process window. It runs on
// SQLite, and on PostgreSQL when SAGAKIT_POSTGRES_DSN is set or
// SAGAKIT_CHAOS_RUNS asks for a campaign (make chaos); the seed
// (SAGAKIT_CHAOS_SEED) replays the runs' plans and the faults' order, not
// the processes' timing. Plain go test runs a short campaign.
//
// The tests need a Unix system; elsewhere they skip.
package crashtest

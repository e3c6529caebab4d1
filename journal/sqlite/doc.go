// Package sqlite is the embedded default [journal.Store]: run journals in
// one SQLite file, through modernc.org/sqlite (pure Go, no cgo).
//
// # Model
//
// The file holds four tables: runs, one row per run header (with its
// lease owner, expiry and token, its pending request and what it waits for),
// entries, each run's journal keyed by run ID and sequence number,
// signals, the events sent to runs, and plans, the plans of saga
// definitions (see Plans). The database is in WAL mode with
// synchronous=FULL: when Create or Append returns nil, the write is in
// the log and the log is on disk, so it survives a crash of the process
// or of the machine.
//
// One connection writes. Writing calls (Create, Append, Claim, Acquire,
// Renew, Release, Request, Signal, SavePlan) queue their operation; a
// call that finds the connection free runs the transaction on its own
// goroutine, and otherwise waits for the one that holds it (another call,
// or the store's writer goroutine). The holder opens a transaction, runs
// each operation as it takes it from the queue (those queued while it
// works join the transaction, up to a batch size), commits once the queue
// is empty, then answers each caller with its own result. Callers that write at the same time thus share one fsync
// (group commit), and a call that fails its check (a lost lease, an
// unknown run) fails alone while the rest of its batch commits.
// Load, List, Signals and LoadPlan read on a separate read-only pool,
// beside the writer.
//
// Times are stored as Unix nanoseconds in UTC and come back exactly, in
// UTC, for the years 1678 to 2262; the zero time is stored as 0. An
// entry given a zero At gets the current time.
//
// # Waiting runs and signals
//
// The Store implements [journal.Signaler]. The signals table keeps the
// events sent to runs, each with a store-wide increasing ID; a consumed
// signal (Update.Consume) stays, flagged, so that its delivery ID is
// still recognized and a delivery is recorded once per run. Signal
// records the event and, if the run waits for it, sets the run's woken
// flag, in one transaction; an Append that sets a run waiting looks in the
// same transaction for an unconsumed signal it waits for, so a signal
// that came first is not missed. Claim takes a waiting run once it is
// woken or its deadline has passed on the store's clock (see
// [WithClock]); Run.Wait.Due is computed against that clock when the
// header is read. A signal that wakes a run wakes this process's workers
// (see [Store.Wakeups]); a deadline that passes wakes no one: workers
// find due runs at their next poll.
//
// # Plans
//
// The Store implements [journal.Planner]. The plans table keeps one row
// per definition fingerprint: the saga's name and its steps, in
// declaration order, as JSON text that tools can read without this
// package: [{"name": ..., "kind": ..., "after": [...]}], "after" listing
// the steps a step runs after ([] for none). SavePlan inserts the row
// through the writer unless the fingerprint has one already (a
// fingerprint names one plan: the first plan saved stays); LoadPlan
// reads it on the read pool and fails with [journal.ErrNotFound],
// wrapped, for a fingerprint without a plan.
//
// # Schema
//
// The store creates and migrates its schema itself, recording the version
// in PRAGMA user_version. A file of an older version is migrated in
// place, its runs kept (version 4 added the plans table, version 5 the
// lease token, 0 for the runs it finds).
//
// Each version is recorded, in the sagakit_versions table, with the
// oldest code version that works on it: its own, unless the migration
// leaves code that does not know it working. A process of an older
// version (a worker not yet restarted, an older sagactl) opens a file
// that newer code migrated when every version it does not know allows
// it, and migrates nothing; otherwise Open fails with an error saying to
// upgrade, rather than guess. (Releases made before this rule read only
// the version: they refuse every newer file.)
//
// # Several processes
//
// Several processes may open the same file (workers and the sagactl CLI,
// say): each Store has its own writer, SQLite's lock orders their
// transactions, and [WithBusyTimeout] bounds the wait. They may open it
// at the same moment, even to create it: [Open] tries again the steps
// that SQLite fails without waiting. The writer keeps the leases of the
// runs it drives in memory, so that a step's Append needs no read; it
// forgets them whenever another process has committed since its own last
// transaction (PRAGMA data_version). The file must be on a local disk:
// SQLite's WAL mode does not work over a network file system.
//
// Processes that write at once wait for each other's transactions, and
// SQLite's busy handler sleeps up to 100 ms between its tries: under a
// heavy load from several processes, one process's write may wait a
// second or more. Keep durable leases well above that (the default 30 s
// is); with leases of a second or two, busy processes lose runs to each
// other (safely: the lease fences every write, but a run changes hands).
// A fleet of busy workers belongs on journal/postgres.
package sqlite

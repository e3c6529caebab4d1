// Package postgres is a [journal.Store] on PostgreSQL, through
// github.com/jackc/pgx/v5: the store for a fleet of workers, several
// processes or machines sharing one database, which is their only
// coordinator.
//
// # Model
//
// A schema of its own (see [WithSchema]; "sagakit" by default) holds four
// tables: runs, one row per run header, with its lease (owner, expiry and
// fencing token),
// its pending request, what it waits for and the Seq of its last entry;
// entries, each run's journal keyed by run ID and Seq; signals, the
// events sent to runs (see Waiting runs and signals); and plans, the
// plans of saga definitions (see Plans). When Create, Append
// or Signal returns nil, the transaction that wrote it has committed:
// with the server's default synchronous_commit=on it is on the server's
// disk, and survives a crash of the worker, of the server, or of the
// server's machine. A Release does not wait for the disk, unless it
// shares its batch with writes that do: if the server crashes just
// after, the lease may come back, and then runs out at its expiry as a
// dead worker's would. An Append whose Update releases the lease
// ([journal.Update.Release], a driver's last write) releases it in its
// own UPDATE, and waits for the disk as any Append does.
//
// Each write is one SQL statement that checks and writes together: an
// Append's UPDATE of the run's row carries the lease check in its WHERE
// clause, and its entries are inserted only if that row was updated.
// (An Append that sets the run waiting, and a Signal, add a second
// statement to their transaction, and an Append that sets the run
// waiting and releases the lease a third: see Waiting runs and
// signals.)
// A write whose check fails (a lost lease, an unknown run, a taken ID)
// writes nothing and returns the journal error: [journal.ErrLeaseLost],
// [journal.ErrNotFound], [journal.ErrExists], [journal.ErrFinal] or
// [journal.ErrPending], wrapped.
//
// PostgreSQL's text holds valid UTF-8 without NUL bytes. Free text, the
// errors and notes of runs, entries and requests, is stored with U+FFFD
// in place of any other bytes, so that a step's odd error message never
// keeps its run from being journaled; names (run IDs, sagas, steps,
// owners) are stored as given, and one with such bytes fails the call.
//
// Load reads a run's header and journal in one repeatable-read
// transaction, in one round trip; List and Signals are one query each.
// They go straight to the pool.
//
// # Leases on the database's clock
//
// Workers' clocks disagree; the database's is the one they share. Every
// time the store records or compares — Created, Updated, entries without
// a time, lease expiries and their checks — is the server's
// statement_timestamp() (the start of the statement), never the worker's
// clock. A lease granted by Claim, Acquire or Renew lasts until the
// database's now plus the ttl the worker asked for; Claim takes runs whose
// lease expired by the database's now, with FOR UPDATE SKIP LOCKED, so
// that workers claiming at once never wait for each other nor get the
// same run.
//
// Create is the one call that is given an instant, run.LeaseExpiry, read
// on the caller's clock. The store keeps the duration the caller meant:
// it records the database's now plus (run.LeaseExpiry minus the caller's
// now). A worker whose clock is an hour off thus gets the lease it asked
// for, no longer and no shorter. The LeaseExpiry values the store returns
// are on the database's clock: compare them with each other, not with
// time.Now.
//
// Fencing: Append and Renew check the lease in the statement that writes,
// on the row as last committed (PostgreSQL waits for a concurrent writer
// of the row and checks again), and hold the row until their transaction
// commits, so a Claim elsewhere cannot take the run between the check and
// the write. A worker whose lease expired writes nothing more, even
// before another worker claimed the run.
//
// Each run's row carries its lease token ([journal.Run.LeaseToken]): 1
// when Create leases the run, 0 when it creates it free, and one more at
// every grant of Claim or Acquire (in the UPDATE that grants it, whose
// returned header carries it); Renew and Release leave it. An Append with
// [journal.Update.Lease] set adds the token to its lease check, in the
// same WHERE clause, so that a write made under a grant that has since
// been followed by another, even to the same owner, writes nothing and
// fails with [journal.ErrLeaseLost]; so do the later statements of an
// Append that sets the run waiting. An Update.Lease of 0 checks the owner
// and the expiry alone.
//
// A waiting run's deadline is on the database's clock too: an Append that
// sets a run waiting for a duration (journal.WaitFor's For) records the
// database's now plus that duration, and the run's Wait.Due, in what
// Load, List, Claim and Acquire return, says whether the database's now
// has reached it.
//
// Times are stored as Unix nanoseconds (bigint, UTC; 0 is the zero time)
// and come back exactly, in UTC, for the years 1678 to 2262: entries carry
// the times their callers gave, to the nanosecond, as the journal contract
// (and package journaltest) requires. The database's clock reads
// microseconds. In SQL, to_timestamp(created / 1e9) shows a time.
//
// # Group commit
//
// Over a network, a round trip costs more than the statement. Writing
// calls (Create, Append, Claim, Acquire, Renew, Release, Request, Signal) queue
// their operation; a call that finds a writer free sends the batch from
// its own goroutine, and otherwise waits for the writers, busy sending,
// to take it. A writer takes every operation queued, up to the batch size
// ([WithBatchSize], 256), sends their statements as one pgx.Batch — one
// pipeline, one round trip, one implicit transaction — and answers each
// caller once the batch has committed. A worker driving 64 runs at once
// thus commits their steps together, in a few round trips rather than
// 64. One writer ([WithWriters]) makes the largest batches: while one is
// in flight, the next fills.
//
// An operation whose check fails writes nothing, so it fails alone and
// the rest of its batch commits. An error from the server (a text the
// database refuses, a constraint) aborts the whole transaction; then the
// writer sends the batch's operations again,
// one transaction each, so that only the failing one fails. Operations go
// in a batch in the order of their run IDs, so that two batches never wait
// for each other's rows in a cycle. If the connection breaks during a
// batch, or the batch outlasts [WithWriteTimeout], whether it committed
// cannot be known: every call in it fails with the error, and none is
// sent again.
//
// # Waiting runs and signals
//
// A Store is a [journal.Signaler]. An Append with Status
// [journal.Waiting] and a Wait records, on the run's row, the event the
// run waits for, its deadline (see Leases on the database's clock) and
// whether it is woken: whether the run has an unconsumed signal for that
// event (never, when the event is "": a timer). [Store.Signal] records a
// signal in the signals table, in one transaction that refuses unknown
// and finished runs (a delivery recorded before is answered as the first
// one was, even once the run has ended; a unique index on the run and the
// delivery ID), and wakes the run if it waits for the event.
// Claim takes waiting runs, besides those that need a worker, once they
// are woken or their deadline has passed. An Append's Update.Consume
// marks signals consumed, in the Append's transaction.
//
// A signal sent while its run parks is never lost. Signal locks the run's
// row before it records the signal, and the Append that sets the run
// waiting updates that row; each then checks, in a statement of its
// transaction that begins once it holds the row, for the other: Signal
// whether the run waits for the event, the Append whether a signal it
// waits for is there. Under READ COMMITTED each statement reads what had
// committed when it began, so whichever of the two takes the row second
// sees the other; that check of the Append's finds the run by its lease,
// so an Append that sets the run waiting and releases the lease does so
// in a third statement, once the check is done. An Append that sets no
// wait and consumes nothing remains one statement.
//
// # Plans
//
// A Store is a [journal.Planner]. The plans table keeps one row per
// definition fingerprint: the saga's name and its steps, in declaration
// order, as jsonb that tools can query without this package:
// [{"name": ..., "kind": ..., "after": [...]}], "after" listing the steps
// a step runs after ([] for none). SavePlan is one INSERT ... ON CONFLICT
// DO NOTHING, straight on the pool rather than through the writers (a
// definition saves its plan once): the first plan saved under a
// fingerprint stays, and stores saving one at once all succeed. LoadPlan
// is one query, and fails with [journal.ErrNotFound], wrapped, for a
// fingerprint without a plan.
//
// # Wake-ups
//
// A Store is a [journal.Waker]. Create of a run without a lease that
// needs a worker (a pending run, typically), Request, Release (and an
// Append whose Update releases the lease), and a Signal that wakes a
// waiting run send a NOTIFY on the schema's channel,
// in the transaction that writes, so that it is heard only if the write
// commits. [Store.Wakeups] listens on one connection of its own, opened
// at the first call, and feeds every channel it returned, coalescing; it
// connects again with backoff when the connection breaks, and wakes
// everyone once it is back, since events may have gone unheard meanwhile.
// Polling remains the fallback: it also finds the waiting runs whose
// deadline passed, which nothing announces.
//
// # Schema and migrations
//
// The store creates its schema and tables, and brings them up to date, at
// [Open] and [New]. Each version applied is a row of the schema's
// sagakit_migrations table; the migrations run in one transaction under a
// transaction-level advisory lock on the schema's name, so that workers
// starting at once on a new database wait for the first and then find the
// schema up to date. A schema of an older version is migrated in place,
// its runs kept: version 2 added the columns of waiting runs (empty for
// the runs already there), the signals table and the indexes Claim
// reads; version 3, the plans table; version 4, the runs' lease tokens
// (0 for the runs already there, as for a run created without a lease,
// so that drivers already holding a lease go on writing, without a
// token, until it ends); version 5 leaves 30% of the runs table's new
// pages free, so that the update of a run's row at each step is a HOT
// one (no index entries written).
//
// Each version is recorded with the oldest code version that works on
// it: its own, unless the migration leaves code that does not know it
// working (version 5, a storage parameter, leaves version 4's). So,
// during a rolling upgrade, a worker opens a schema that a newer one
// migrated when every version it does not know allows it, and migrates
// nothing; otherwise it fails with an error saying to upgrade rather
// than guess. (Releases made before this rule read only the version:
// they refuse every newer schema.) A role that may not create schemas
// can open one that is up to date. The store needs PostgreSQL 14 or
// newer.
//
// # Connecting
//
// [Open] takes a DSN, as a postgres:// URL or keyword/value string (see
// pgx's ParseConfig; pool settings such as pool_max_conns work), and
// makes a pool the Store owns; [New] takes the caller's pool and leaves it
// open at Close. Both check that the server answers within the connect
// timeout ([WithConnectTimeout], 10s, or the DSN's connect_timeout)
// rather than hang, and fail with an error that names the DSN with its
// password masked: no error of this package shows a password.
//
// # Sizing
//
// A Store takes one pool connection per writer while a batch is in
// flight, and one per Load or List in progress; Wakeups holds one more
// connection, outside the pool. pgxpool's default of max(4, CPUs)
// connections suits a worker; count the fleet's processes times that
// against the server's max_connections. Behind PgBouncer, use session
// pooling: LISTEN needs a session, and a batch's implicit transaction
// needs its statements on one server connection.
//
// Claim scans the runs that need a worker (pending, running or
// compensating, woken waiting runs, or with a request) oldest first, on a
// partial index; runs that are driven under live leases stay in that index
// until they end, so a claim passes over them. Waiting runs that are not
// woken are not in it: a claim finds those whose deadline has passed on
// another partial index, by deadline, so that runs waiting long cost
// claims nothing. Claim leases the oldest runs of both kinds; when more
// runs fell due than it takes, it takes them in the order of their
// deadlines.
//
// Consumed signals stay in the signals table, as entries do, but leave
// its index of each run's unconsumed signals, which Signals and the
// wake-up checks read.
//
// # Tests
//
// [WithNow] makes the store take the current time from the test, sent as
// a query parameter, so that package journaltest can move time without
// sleeping. This package's own tests read the server's DSN from
// SAGAKIT_POSTGRES_DSN and skip without it (fail, with
// SAGAKIT_REQUIRE_POSTGRES=1); each runs in a schema of its own that it
// drops when done.
package postgres

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// useWAL puts the database on conn in WAL mode, which persists in the
// file. Switching a file in rollback mode (a new one) takes a read lock,
// then the write lock, and SQLite fails the second request at once,
// without waiting, if another connection holds it (two connections each
// holding the read lock could otherwise wait for each other forever): the
// caller retries (see [retryBusy]). Once the file is in WAL mode, this
// takes no lock.
func useWAL(ctx context.Context, conn *sql.Conn) error {
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("switch to WAL mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not WAL", mode)
	}
	return nil
}

// A migration brings a database from one schema version to the next.
type migration struct {
	sql string
	// minCode is the oldest code version (the number of migrations the
	// code knows) that works on a file with this migration applied: the
	// migration's own version, unless code that knows only earlier
	// versions goes on working with it (an added index, a table or a
	// column with a default that older code neither reads nor must
	// write). It is kept with the version, so that an older process on
	// the same file (a worker not yet restarted, an older sagactl) opens
	// it when every version it does not know allows it (see
	// [compatible]).
	minCode int
}

// migrations brings a database from schema version i to i+1 with
// migrations[i]. The version lives in PRAGMA user_version, so a file's
// version is len(migrations) once the store opened it; each version's
// minCode is a row of sagakit_versions. Append new migrations; never
// edit one that shipped.
var migrations = []migration{
	// 1: runs and their journals.
	{minCode: 1, sql: `
CREATE TABLE runs (
	id           TEXT    NOT NULL PRIMARY KEY,
	saga         TEXT    NOT NULL,
	fingerprint  TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	state        BLOB,
	error        TEXT    NOT NULL,
	note         TEXT    NOT NULL,
	request_verb TEXT    NOT NULL,
	request_step TEXT    NOT NULL,
	request_note TEXT    NOT NULL,
	created      INTEGER NOT NULL, -- Unix nanoseconds, UTC; 0 is the zero time
	updated      INTEGER NOT NULL,
	ended        INTEGER NOT NULL,
	lease_owner  TEXT    NOT NULL, -- '' when no one holds the lease
	lease_expiry INTEGER NOT NULL
);

-- A run's last Seq is max(seq) of its entries, a seek on the primary
-- key: the header is not written when only entries are added.
CREATE TABLE entries (
	run_id   TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq      INTEGER NOT NULL,
	kind     TEXT    NOT NULL,
	step     TEXT    NOT NULL,
	attempt  INTEGER NOT NULL,
	attempts INTEGER NOT NULL,
	error    TEXT    NOT NULL,
	state    BLOB,
	status   TEXT    NOT NULL,
	verb     TEXT    NOT NULL,
	note     TEXT    NOT NULL,
	at       INTEGER NOT NULL,
	PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- List: newest first, by saga, by status.
CREATE INDEX runs_created ON runs (created, id);
CREATE INDEX runs_saga ON runs (saga, created);
CREATE INDEX runs_status ON runs (status, created);

-- Claim: the runs that need a worker, oldest first. Claim's query
-- repeats this WHERE clause word for word so that SQLite uses the index
-- (migration 2 replaces it).
CREATE INDEX runs_claim ON runs (created, id)
	WHERE status IN ('running', 'compensating') OR request_verb <> '';
`},
	// 2: pending runs (started to be driven by any worker) are claimed too.
	{minCode: 2, sql: `
DROP INDEX runs_claim;
CREATE INDEX runs_claim ON runs (created, id)
	WHERE status IN ('pending', 'running', 'compensating') OR request_verb <> '';
`},
	// 3: waiting runs and their signals. The wait columns are set only
	// while a run's status is 'waiting' (any other status clears them),
	// so the claim indexes need not repeat the status. A waiting run is
	// claimed when woken, through runs_claim, or when its deadline has
	// passed, through runs_due: a range on wait_until, so that runs
	// waiting far ahead cost a claim nothing.
	{minCode: 3, sql: `
ALTER TABLE runs ADD COLUMN wait_event TEXT    NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN wait_until INTEGER NOT NULL DEFAULT 0; -- Unix nanoseconds; 0: no deadline
ALTER TABLE runs ADD COLUMN wait_woken INTEGER NOT NULL DEFAULT 0; -- 1: an unconsumed signal it waits for

-- Signal IDs increase store-wide and are never reused (AUTOINCREMENT).
-- Consumed signals stay, flagged, so that a delivery is recorded once.
CREATE TABLE signals (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id   TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	event    TEXT    NOT NULL,
	payload  BLOB,
	delivery TEXT    NOT NULL, -- '' when the sender gave none
	at       INTEGER NOT NULL,
	consumed INTEGER NOT NULL DEFAULT 0
);

-- A run's unconsumed signals, oldest first (and the foreign key's
-- lookups).
CREATE INDEX signals_run ON signals (run_id, consumed, id);
-- A delivery is recorded once per run.
CREATE UNIQUE INDEX signals_delivery ON signals (run_id, delivery) WHERE delivery <> '';

-- Claim: woken runs join the others; due runs come by their deadline.
-- Claim's query repeats both WHERE clauses word for word.
DROP INDEX runs_claim;
CREATE INDEX runs_claim ON runs (created, id)
	WHERE status IN ('pending', 'running', 'compensating') OR request_verb <> '' OR wait_woken <> 0;
CREATE INDEX runs_due ON runs (wait_until) WHERE wait_until <> 0;
`},
	// 4: plans, one per definition fingerprint (journal.Planner), kept
	// once: a fingerprint names one plan.
	{minCode: 4, sql: `
CREATE TABLE plans (
	fingerprint TEXT NOT NULL PRIMARY KEY,
	saga        TEXT NOT NULL,
	steps       TEXT NOT NULL -- JSON: [{"name", "kind", "after": [names]}], in declaration order
) WITHOUT ROWID;
`},
	// 5: the lease's fencing token (journal.Run.LeaseToken), moved on by
	// every grant, so that a driver's write after its run was granted
	// again, even to its own owner, is refused.
	{minCode: 5, sql: `
ALTER TABLE runs ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
`},
}

// migrate brings the database on conn to the latest schema version. It
// runs under the write lock, so two processes opening a new file at once
// do not both create the tables.
func migrate(ctx context.Context, conn *sql.Conn) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	var version int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if version > len(migrations) {
		if err := compatible(ctx, conn, version); err != nil {
			return fmt.Errorf("sqlite: the file has %w", err)
		}
	}
	if version < 0 {
		return fmt.Errorf("sqlite: the file has schema version %d: not a sagakit journal, or a damaged one", version)
	}
	if version < len(migrations) {
		// Added after version 5 shipped, outside the versions: code that
		// knows 5 or fewer reads only user_version. A version without a
		// row (recorded before) needs itself.
		if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS sagakit_versions (
			version          INTEGER NOT NULL PRIMARY KEY,
			min_code_version INTEGER NOT NULL
		) WITHOUT ROWID`); err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
	}
	for v := version; v < len(migrations); v++ {
		if _, err := conn.ExecContext(ctx, migrations[v].sql); err != nil {
			return fmt.Errorf("sqlite: migrate to schema version %d: %w", v+1, err)
		}
		if _, err := conn.ExecContext(ctx, `INSERT OR REPLACE INTO sagakit_versions (version, min_code_version) VALUES (?, ?)`,
			v+1, migrations[v].minCode); err != nil {
			return fmt.Errorf("sqlite: record schema version %d: %w", v+1, err)
		}
	}
	if version < len(migrations) {
		// PRAGMA takes no parameters; the value is our own integer.
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
			return fmt.Errorf("sqlite: set schema version: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// checkSchema fails unless the database holds a journal of this code's
// schema version; it writes nothing.
func checkSchema(ctx context.Context, conn *sql.Conn) error {
	var version, tables int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if err := conn.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('runs', 'entries')").Scan(&tables); err != nil {
		return fmt.Errorf("look for the journal's tables: %w", err)
	}
	switch {
	case tables < 2 || version <= 0:
		return errors.New("not a sagakit journal")
	case version > len(migrations):
		return compatible(ctx, conn, version)
	case version < len(migrations):
		return fmt.Errorf("schema version %d, older than this code's (%d): open it once without WithoutMigration (a worker does) to migrate it", version, len(migrations))
	}
	return nil
}

// compatible fails unless this code works on a file of schema version
// version, newer than it knows: every version it does not know must be
// recorded, and let code of its version go on ([migration].minCode).
// Otherwise the error says to upgrade.
func compatible(ctx context.Context, conn *sql.Conn, version int) error {
	known := len(migrations)
	var rows, needs int
	err := conn.QueryRowContext(ctx, `SELECT count(*), coalesce(max(min_code_version), 0) FROM sagakit_versions
		WHERE version > ? AND version <= ?`, known, version).Scan(&rows, &needs)
	if rows < version-known {
		needs = version // a version without a row needs itself
	}
	switch {
	case err != nil:
		return fmt.Errorf("schema version %d, newer than this code knows (%d), and what it needs cannot be read (%w): upgrade sagakit",
			version, known, err)
	case needs > known:
		return fmt.Errorf("schema version %d, newer than this code knows (%d), which needs code of version %d or later: upgrade sagakit",
			version, known, needs)
	}
	return nil
}

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

// migrations brings a database from schema version i to i+1 with
// migrations[i]. The version lives in PRAGMA user_version, so a file's
// version is len(migrations) once the store opened it. Append new
// migrations; never edit one that shipped.
var migrations = []string{
	// 1: runs and their journals.
	`
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
`,
	// 2: pending runs (started to be driven by any worker) are claimed too.
	`
DROP INDEX runs_claim;
CREATE INDEX runs_claim ON runs (created, id)
	WHERE status IN ('pending', 'running', 'compensating') OR request_verb <> '';
`,
	// 3: waiting runs and their signals. The wait columns are set only
	// while a run's status is 'waiting' (any other status clears them),
	// so the claim indexes need not repeat the status. A waiting run is
	// claimed when woken, through runs_claim, or when its deadline has
	// passed, through runs_due: a range on wait_until, so that runs
	// waiting far ahead cost a claim nothing.
	`
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
`,
	// 4: plans, one per definition fingerprint (journal.Planner), kept
	// once: a fingerprint names one plan.
	`
CREATE TABLE plans (
	fingerprint TEXT NOT NULL PRIMARY KEY,
	saga        TEXT NOT NULL,
	steps       TEXT NOT NULL -- JSON: [{"name", "kind", "after": [names]}], in declaration order
) WITHOUT ROWID;
`,
	// 5: the lease's fencing token (journal.Run.LeaseToken), moved on by
	// every grant, so that a driver's write after its run was granted
	// again, even to its own owner, is refused.
	`
ALTER TABLE runs ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
`,
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
		return fmt.Errorf("sqlite: the file has schema version %d, newer than this code knows (%d): upgrade sagakit",
			version, len(migrations))
	}
	if version < 0 {
		return fmt.Errorf("sqlite: the file has schema version %d: not a sagakit journal, or a damaged one", version)
	}
	for v := version; v < len(migrations); v++ {
		if _, err := conn.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("sqlite: migrate to schema version %d: %w", v+1, err)
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
		return fmt.Errorf("schema version %d, newer than this code knows (%d): upgrade sagakit", version, len(migrations))
	case version < len(migrations):
		return fmt.Errorf("schema version %d, older than this code's (%d): open it once without WithoutMigration (a worker does) to migrate it", version, len(migrations))
	}
	return nil
}

package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A migration brings a schema from one version to the next.
type migration struct {
	// sql is the migration's statements; {schema} stands for the quoted
	// schema name.
	sql string
	// minCode is the oldest code version (the number of migrations the
	// code knows) that works on a schema with this migration applied:
	// the migration's own version, unless code that knows only earlier
	// versions goes on working with it (an added index, a table or a
	// column with a default that older code neither reads nor must
	// write, a storage parameter). It is kept with the version, so that
	// older workers still running during a rolling upgrade open the
	// schema a newer one migrated when every version they do not know
	// allows them to (see [compatible]).
	minCode int
}

// migrations brings a schema from version i to i+1 with migrations[i].
// The versions applied are rows of {schema}.sagakit_migrations, with
// their minCode. Append new migrations; never edit one that shipped.
var migrations = []migration{
	// 1: runs and their journals.
	{minCode: 1, sql: `
CREATE TABLE {schema}.runs (
	id           text   NOT NULL PRIMARY KEY,
	saga         text   NOT NULL,
	fingerprint  text   NOT NULL,
	status       text   NOT NULL,
	state        bytea,
	error        text   NOT NULL,
	note         text   NOT NULL,
	request_verb text   NOT NULL,
	request_step text   NOT NULL,
	request_note text   NOT NULL,
	created      bigint NOT NULL, -- Unix nanoseconds, UTC; 0 is the zero time
	updated      bigint NOT NULL,
	ended        bigint NOT NULL,
	lease_owner  text   NOT NULL, -- '' when no one holds the lease
	lease_expiry bigint NOT NULL, -- on the database's clock
	last_seq     bigint NOT NULL  -- the Seq of the run's last entry
);

CREATE TABLE {schema}.entries (
	run_id   text   NOT NULL REFERENCES {schema}.runs (id) ON DELETE CASCADE,
	seq      bigint NOT NULL,
	kind     text   NOT NULL,
	step     text   NOT NULL,
	attempt  bigint NOT NULL,
	attempts bigint NOT NULL,
	error    text   NOT NULL,
	state    bytea,
	status   text   NOT NULL,
	verb     text   NOT NULL,
	note     text   NOT NULL,
	at       bigint NOT NULL,
	PRIMARY KEY (run_id, seq)
);

-- List: newest first, by saga, by status.
CREATE INDEX runs_created ON {schema}.runs (created, id);
CREATE INDEX runs_saga ON {schema}.runs (saga, created);
CREATE INDEX runs_status ON {schema}.runs (status, created);

-- Claim: the runs that need a worker, oldest first. Claim's query
-- repeats this WHERE clause word for word so that the planner can use
-- the index. Lease columns are not indexed: taking and renewing leases
-- are HOT updates.
CREATE INDEX runs_claim ON {schema}.runs (created, id)
	WHERE status IN ('pending', 'running', 'compensating') OR request_verb <> '';
`},
	// 2: waiting runs and their signals.
	{minCode: 2, sql: `
-- What a waiting run waits for: an event ('' for a timer), a deadline
-- on the database's clock (0 for none), and whether a signal it waits
-- for has arrived.
ALTER TABLE {schema}.runs
	ADD COLUMN wait_event text    NOT NULL DEFAULT '',
	ADD COLUMN wait_until bigint  NOT NULL DEFAULT 0,
	ADD COLUMN wait_woken boolean NOT NULL DEFAULT false;

CREATE TABLE {schema}.signals (
	id       bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id   text    NOT NULL REFERENCES {schema}.runs (id) ON DELETE CASCADE,
	event    text    NOT NULL,
	payload  bytea,
	delivery text    NOT NULL, -- the sender's ID of the delivery; '' for none
	at       bigint  NOT NULL,
	consumed boolean NOT NULL DEFAULT false
);

-- A delivery is recorded once per run.
CREATE UNIQUE INDEX signals_delivery ON {schema}.signals (run_id, delivery) WHERE delivery <> '';
-- Signals, and the wake-up checks, read a run's unconsumed signals.
CREATE INDEX signals_unconsumed ON {schema}.signals (run_id, id) WHERE NOT consumed;

-- Claim takes woken waiting runs too, on the same index; and waiting
-- runs whose deadline has passed, on the second, by deadline.
DROP INDEX {schema}.runs_claim;
CREATE INDEX runs_claim ON {schema}.runs (created, id)
	WHERE status IN ('pending', 'running', 'compensating') OR request_verb <> '' OR (status = 'waiting' AND wait_woken);
CREATE INDEX runs_wait_until ON {schema}.runs (wait_until)
	WHERE status = 'waiting' AND wait_until <> 0;
`},
	// 3: plans, one per definition fingerprint (journal.Planner), kept
	// once: a fingerprint names one plan.
	{minCode: 3, sql: `
CREATE TABLE {schema}.plans (
	fingerprint text  NOT NULL PRIMARY KEY,
	saga        text  NOT NULL,
	steps       jsonb NOT NULL -- [{"name", "kind", "after": [names]}], in declaration order
);
`},
	// 4: lease fencing tokens (journal.Run.LeaseToken): 1 when Create
	// leases a run, increased by every grant of Claim and Acquire. The
	// runs already there get 0, as a run created without a lease, and 1 at
	// their next grant. A constant default: PostgreSQL adds the column
	// without rewriting the table.
	{minCode: 4, sql: `
ALTER TABLE {schema}.runs ADD COLUMN lease_token bigint NOT NULL DEFAULT 0;
`},
	// 5: room in the runs table's pages for a row's next version. A run's
	// row is updated at every step (its last_seq, its lease) and the
	// columns that change are not indexed, so the update can be a HOT
	// one, which writes no index entry, if the row's page has room for
	// the new version; full pages made most of them cold: about 1 in 6
	// was HOT at 64 runs at once, 2 in 3 with this. Pages filled before
	// the change keep their rows; new pages are filled to 70%. Code of
	// version 4 works on it: a storage parameter.
	{minCode: 4, sql: `
ALTER TABLE {schema}.runs SET (fillfactor = 70);
`},
}

// minServerVersion is the oldest PostgreSQL the store runs on: 14, whose
// extract(epoch ...) returns an exact numeric.
const minServerVersion = 140000

// expand replaces {schema} in q with the quoted schema name.
func expand(q, schema string) string {
	return strings.ReplaceAll(q, "{schema}", pgx.Identifier{schema}.Sanitize())
}

// migrate brings schema to the latest version in one transaction, under
// a transaction-level advisory lock on the schema's name: several stores
// starting at once on a new database wait for the first to create it,
// then find it up to date.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	return migrateTo(ctx, pool, schema, len(migrations))
}

// migrateTo is migrate up to version target (tests create old schemas
// with it).
func migrateTo(ctx context.Context, pool *pgxpool.Pool, schema string, target int) (err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	var server int
	if err := tx.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&server); err != nil {
		return fmt.Errorf("read the server's version: %w", err)
	}
	if server < minServerVersion {
		return fmt.Errorf("the server is PostgreSQL %d.%d; the store needs %d or newer",
			server/10000, server%10000, minServerVersion/10000)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('sagakit.migrate:' || $1, 0))`, schema); err != nil {
		return fmt.Errorf("lock the schema for migration: %w", err)
	}
	// A store whose role may not create schemas can still open one that
	// is up to date: look before creating anything.
	var version int
	var table *string
	err = tx.QueryRow(ctx, `SELECT to_regclass($1)::text`, expand(`{schema}.sagakit_migrations`, schema)).Scan(&table)
	if err != nil {
		return fmt.Errorf("look for the schema: %w", err)
	}
	if table != nil {
		err = tx.QueryRow(ctx, expand(`SELECT coalesce(max(version), 0) FROM {schema}.sagakit_migrations`, schema)).Scan(&version)
		if err != nil {
			return fmt.Errorf("read the schema version: %w", err)
		}
	}
	if version > len(migrations) {
		if err := compatible(ctx, tx, schema, version); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	if version < 0 {
		return fmt.Errorf("schema %q has version %d: not a sagakit journal, or a damaged one", schema, version)
	}
	if version >= target {
		return tx.Commit(ctx)
	}
	for _, q := range []string{
		`CREATE SCHEMA IF NOT EXISTS {schema}`,
		`CREATE TABLE IF NOT EXISTS {schema}.sagakit_migrations (
			version    integer     NOT NULL PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`,
		// Added after version 5 shipped, outside the versions: code that
		// knows 5 or fewer reads only version. 0 (the rows recorded
		// before) stands for the row's own version.
		`ALTER TABLE {schema}.sagakit_migrations ADD COLUMN IF NOT EXISTS min_code_version integer NOT NULL DEFAULT 0`,
	} {
		if _, err := tx.Exec(ctx, expand(q, schema)); err != nil {
			return err
		}
	}
	for v := version; v < target; v++ {
		if _, err := tx.Exec(ctx, expand(migrations[v].sql, schema)); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
		if _, err := tx.Exec(ctx, expand(`INSERT INTO {schema}.sagakit_migrations (version, min_code_version) VALUES ($1, $2)`, schema),
			v+1, migrations[v].minCode); err != nil {
			return fmt.Errorf("record version %d: %w", v+1, err)
		}
	}
	return tx.Commit(ctx)
}

// checkSchema fails unless schema holds a journal of this code's version;
// it writes nothing.
func checkSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	var table *string
	if err := pool.QueryRow(ctx, `SELECT to_regclass($1)::text`, expand(`{schema}.sagakit_migrations`, schema)).Scan(&table); err != nil {
		return fmt.Errorf("look for the schema: %w", err)
	}
	if table == nil {
		return fmt.Errorf("no sagakit journal in schema %q", schema)
	}
	var version int
	if err := pool.QueryRow(ctx, expand(`SELECT coalesce(max(version), 0) FROM {schema}.sagakit_migrations`, schema)).Scan(&version); err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	switch {
	case version > len(migrations):
		return compatible(ctx, pool, schema, version)
	case version < len(migrations):
		return fmt.Errorf("schema %q has version %d, older than this code's (%d): open it once without WithoutMigration (a worker does) to migrate it",
			schema, version, len(migrations))
	}
	return nil
}

// compatible fails unless this code works on schema, of a newer version:
// every version it does not know must let code of its version go on
// ([migration].minCode). Otherwise the error says to upgrade.
func compatible(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, schema string, version int) error {
	var needs int
	err := q.QueryRow(ctx, expand(`SELECT coalesce(max(CASE WHEN min_code_version = 0 THEN version ELSE min_code_version END), 0)
		FROM {schema}.sagakit_migrations WHERE version > $1`, schema), len(migrations)).Scan(&needs)
	switch {
	case err != nil:
		return fmt.Errorf("schema %q has version %d, newer than this code knows (%d), and what it needs cannot be read (%w): upgrade sagakit",
			schema, version, len(migrations), err)
	case needs > len(migrations):
		return fmt.Errorf("schema %q has version %d, newer than this code knows (%d), which needs code of version %d or later: upgrade sagakit",
			schema, version, len(migrations), needs)
	}
	return nil
}

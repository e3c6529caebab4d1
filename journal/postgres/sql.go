package postgres

import (
	"strconv"
	"strings"

	"github.com/sagakit/sagakit/journal"
)

// The SQL of the store, written once with {schema} and {now} and expanded
// per store (see newStatements). Every write that reads the clock takes
// it from {now}: the parameter $1 when a test set one (WithNow), else the
// database's statement_timestamp(), in Unix nanoseconds. Each write is
// one statement that checks and writes together, and returns what the
// caller needs to tell a journal error (not found, lease lost, ...) from
// success; a write that fails its check writes nothing, so that the rest
// of its batch commits.

// nowSQL is the current time in Unix nanoseconds: the test's, or the
// database's. statement_timestamp() is when the server began the
// statement: within a batch, later statements see later times.
const nowSQL = `coalesce($1::bigint, (extract(epoch FROM statement_timestamp()) * 1000000000)::bigint)`

// runColumns are a run header's columns, in scanRun's order.
const runColumns = `id, saga, fingerprint, status, state, error, note,
	request_verb, request_step, request_note, created, updated, ended, lease_owner, lease_expiry`

// unnestEntries turns the parameters of a list of entries, one array per
// column from parameter $first on (see entryArgs), into rows e, numbered
// from 1 in e.n.
func unnestEntries(first int) string {
	var b strings.Builder
	b.WriteString("unnest(")
	for i, typ := range []string{"text", "text", "bigint", "bigint", "text", "bytea", "text", "text", "text", "bigint"} {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(first+i) + "::" + typ + "[]")
	}
	b.WriteString(") WITH ORDINALITY AS e(kind, step, attempt, attempts, error, state, status, verb, note, at, n)")
	return b.String()
}

const insertEntries = `INSERT INTO {schema}.entries (run_id, seq, kind, step, attempt, attempts, error, state, status, verb, note, at)`

// createSQL inserts a run and its entries unless the ID is taken; it
// returns 1 if it did. $14 is the lease's TTL in nanoseconds, NULL for
// none (expiry 0): the expiry is on the database's clock.
var createSQL = `WITH n AS (SELECT ` + nowSQL + ` AS now),
run AS (
	INSERT INTO {schema}.runs (` + runColumns + `, last_seq)
	SELECT $2::text, $3::text, $4::text, $5::text, $6::bytea, $7::text, $8::text, $9::text, $10::text, $11::text,
		n.now, n.now, $12::bigint, $13::text,
		CASE WHEN $14::bigint IS NULL THEN 0 ELSE n.now + $14::bigint END,
		cardinality($15::text[])
	FROM n
	ON CONFLICT (id) DO NOTHING
	RETURNING id, created
), ins AS (
	` + insertEntries + `
	SELECT run.id, e.n, e.kind, e.step, e.attempt, e.attempts, e.error, e.state, e.status, e.verb, e.note,
		CASE WHEN e.at = 0 THEN run.created ELSE e.at END
	FROM run, ` + unnestEntries(15) + `
)
SELECT count(*) FROM run`

// appendSQL appends entries to a run whose lease $3 holds, and applies
// an Update to its header if $4. It returns whether it did, and whether
// the run exists.
//
// One UPDATE checks the lease, changes the header and takes the entries'
// numbers from the run's last_seq. If another transaction changed the
// row meanwhile, PostgreSQL waits for it and checks the lease again on
// the row as that one committed it: the check and the write are one. A
// Claim elsewhere skips the row until this batch commits.
var appendSQL = `WITH run AS (
	UPDATE {schema}.runs r SET
		last_seq = r.last_seq + cardinality($13::text[]),
		updated = CASE WHEN $4::boolean THEN n.now ELSE r.updated END,
		status = CASE WHEN $5::text = '' THEN r.status ELSE $5::text END,
		state = CASE WHEN $6::boolean THEN $7::bytea ELSE r.state END,
		error = CASE WHEN $8::boolean THEN $9::text ELSE r.error END,
		ended = CASE WHEN NOT $10::boolean THEN r.ended WHEN $11::bigint = 0 THEN n.now ELSE $11::bigint END,
		request_verb = CASE WHEN $12::boolean THEN '' ELSE r.request_verb END,
		request_step = CASE WHEN $12::boolean THEN '' ELSE r.request_step END,
		request_note = CASE WHEN $12::boolean THEN '' ELSE r.request_note END
	FROM (SELECT ` + nowSQL + ` AS now) n
	WHERE r.id = $2 AND r.lease_owner = $3 AND r.lease_expiry > n.now
	RETURNING r.id, n.now, r.last_seq - cardinality($13::text[]) AS seq
), ins AS (
	` + insertEntries + `
	SELECT run.id, run.seq + e.n, e.kind, e.step, e.attempt, e.attempts, e.error, e.state, e.status, e.verb, e.note,
		CASE WHEN e.at = 0 THEN run.now ELSE e.at END
	FROM run, ` + unnestEntries(13) + `
)
SELECT EXISTS (SELECT FROM run), EXISTS (SELECT FROM {schema}.runs WHERE id = $2)`

// requestSQL records a request on a run that is not final ($6 lists the
// final statuses) and has none pending, with its entry of kind $7. It
// returns the run's status and pending verb as they were, and whether it
// recorded the request; no row if the run does not exist. It locks the
// row first (FOR UPDATE reads it as last committed, after waiting for
// any other writer), then updates it as appendSQL does.
const requestSQL = `WITH r AS (
	SELECT r.id, r.status, r.request_verb, n.now
	FROM {schema}.runs r, (SELECT ` + nowSQL + ` AS now) n
	WHERE r.id = $2
	FOR UPDATE OF r
), upd AS (
	UPDATE {schema}.runs t
	SET request_verb = $3::text, request_step = $4::text, request_note = $5::text, note = $5::text,
		updated = r.now, last_seq = t.last_seq + 1
	FROM r
	WHERE t.id = r.id AND r.status <> ALL ($6::text[]) AND r.request_verb = ''
	RETURNING t.id, t.last_seq
), ins AS (
	` + insertEntries + `
	SELECT r.id, upd.last_seq, $7::text, $4::text, 0, 0, '', NULL, '', $3::text, $5::text, r.now
	FROM r JOIN upd ON upd.id = r.id
)
SELECT r.status, r.request_verb, EXISTS (SELECT FROM upd) FROM r`

// claimSQL leases to $2, for $3 nanoseconds, up to $4 runs that need a
// worker and whose lease is free or expired, oldest first; it skips the
// rows other transactions hold. Its inner WHERE clause repeats the
// runs_claim index's.
const claimSQL = `UPDATE {schema}.runs r SET lease_owner = $2, lease_expiry = n.now + $3::bigint
FROM (SELECT ` + nowSQL + ` AS now) n
WHERE r.id IN (
	SELECT c.id FROM {schema}.runs c
	WHERE (c.status IN ('pending', 'running', 'compensating') OR c.request_verb <> '')
	AND (c.lease_owner = '' OR c.lease_expiry <= ` + nowSQL + `)
	ORDER BY c.created, c.id
	LIMIT $4
	FOR UPDATE SKIP LOCKED)
RETURNING ` + runColumns

// acquireSQL leases a run whose lease is free or expired to $3 for $4
// nanoseconds; acquireOwnerSQL then tells why it did not.
const (
	acquireSQL = `UPDATE {schema}.runs r SET lease_owner = $3, lease_expiry = n.now + $4::bigint
FROM (SELECT ` + nowSQL + ` AS now) n
WHERE r.id = $2 AND (r.lease_owner = '' OR r.lease_expiry <= n.now)
RETURNING ` + runColumns
	acquireOwnerSQL = `SELECT lease_owner FROM {schema}.runs WHERE id = $1`
)

// renewSQL extends $3's unexpired lease to now plus $4 nanoseconds. It
// returns whether it did, and whether the run exists.
const renewSQL = `WITH upd AS (
	UPDATE {schema}.runs r SET lease_expiry = n.now + $4::bigint
	FROM (SELECT ` + nowSQL + ` AS now) n
	WHERE r.id = $2 AND r.lease_owner = $3 AND r.lease_expiry > n.now
	RETURNING r.id
)
SELECT EXISTS (SELECT FROM upd), EXISTS (SELECT FROM {schema}.runs WHERE id = $2)`

const releaseSQL = `UPDATE {schema}.runs SET lease_owner = '', lease_expiry = 0 WHERE id = $1 AND lease_owner = $2`

// notifySQL wakes the store's listeners when the batch commits.
const notifySQL = `SELECT pg_notify($1, '')`

// Reads.
const (
	loadRunSQL     = `SELECT ` + runColumns + ` FROM {schema}.runs WHERE id = $1`
	loadEntriesSQL = `SELECT seq, kind, step, attempt, attempts, error, state, status, verb, note, at
	FROM {schema}.entries WHERE run_id = $1 ORDER BY seq`
)

// statements is the SQL of one store, its schema filled in.
type statements struct {
	create, append, request, claim, acquire, acquireOwner, renew, release string
	loadRun, loadEntries, list                                            string
}

func newStatements(schema string) *statements {
	x := func(q string) string { return expand(q, schema) }
	return &statements{
		create:       x(createSQL),
		append:       x(appendSQL),
		request:      x(requestSQL),
		claim:        x(claimSQL),
		acquire:      x(acquireSQL),
		acquireOwner: x(acquireOwnerSQL),
		renew:        x(renewSQL),
		release:      x(releaseSQL),
		loadRun:      x(loadRunSQL),
		loadEntries:  x(loadEntriesSQL),
		list:         x(`SELECT ` + runColumns + ` FROM {schema}.runs`),
	}
}

// finalStatuses lists the statuses a request cannot move, for requestSQL.
var finalStatuses = func() []string {
	var out []string
	for _, s := range []journal.Status{
		journal.Pending, journal.Running, journal.Compensating, journal.Paused, journal.Succeeded,
		journal.Compensated, journal.CompensationFailed, journal.Failed, journal.Resolved,
		journal.Abandoned, journal.Blocked,
	} {
		if s.Final() {
			out = append(out, string(s))
		}
	}
	return out
}()

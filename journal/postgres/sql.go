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
// of its batch commits. Setting a run waiting and recording a signal each
// take a second statement, which checks for the other (see Waking).

// nowSQL is the current time in Unix nanoseconds: the test's, or the
// database's. statement_timestamp() is when the server began the
// statement: within a batch, later statements see later times.
const nowSQL = `coalesce($1::bigint, (extract(epoch FROM statement_timestamp()) * 1000000000)::bigint)`

// runColumns are the columns Create writes, the first of a header's.
const runColumns = `id, saga, fingerprint, status, state, error, note,
	request_verb, request_step, request_note, created, updated, ended, lease_owner, lease_expiry, lease_token`

// headerColumns are a run header's columns, in scanRun's order: the last
// is Wait.Due, whether a waiting run's deadline has passed at now (an SQL
// expression of the current time in Unix nanoseconds).
func headerColumns(now string) string {
	return runColumns + `, wait_event, wait_until, wait_woken,
	(status = 'waiting' AND wait_until <> 0 AND wait_until <= ` + now + `)`
}

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
// returns 1 if it did. $13 is the lease's owner, empty for none; $14 is its
// TTL in nanoseconds, NULL for none (expiry 0): the expiry is on the
// database's clock. A run created leased has lease token 1, one created
// free 0.
var createSQL = `WITH n AS (SELECT ` + nowSQL + ` AS now),
run AS (
	INSERT INTO {schema}.runs (` + runColumns + `, last_seq)
	SELECT $2::text, $3::text, $4::text, $5::text, $6::bytea, $7::text, $8::text, $9::text, $10::text, $11::text,
		n.now, n.now, $12::bigint, $13::text,
		CASE WHEN $14::bigint IS NULL THEN 0 ELSE n.now + $14::bigint END,
		CASE WHEN $13::text = '' THEN 0 ELSE 1 END,
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

// appendSQL appends entries to a run whose lease $3 holds (that lease,
// of token $14, unless $14 is 0: see fence), applies an Update to its
// header if $4, and ends the lease if $13. It returns whether it did,
// and whether the run exists (which it looks up only if it did not: an
// index probe saved on every step).
//
// One UPDATE checks the lease, changes the header and takes the entries'
// numbers from the run's last_seq. If another transaction changed the
// row meanwhile, PostgreSQL waits for it and checks the lease again on
// the row as that one committed it: the check and the write are one. A
// Claim elsewhere skips the row until this batch commits.
//
// A status other than waiting clears the wait. appendWaitSQL, for an
// Update that sets a wait or consumes signals, is the same statement with
// five more parameters: $25, whether to set the wait, to event $26 and
// deadline $27 (kept if not 0) or now plus $28 nanoseconds (none if not
// positive); and $29, the IDs of the run's signals to mark consumed. It
// leaves wait_woken false: wokenSQL, the next statement of the same
// transaction, sets it (see there), and, since wokenSQL checks the lease
// to know that the append happened, an Update that sets a wait releases
// the lease in a third statement, releaseHeldSQL, rather than in $13.
var (
	appendSQL     = appendStatement(false)
	appendWaitSQL = appendStatement(true)
)

// keepWait is true when the status $5 leaves the wait as it is.
const keepWait = `$5::text IN ('', 'waiting')`

// fence is the lease token check of a write by run r's lease holder:
// true when the token p (a parameter, as "$14") is 0, which asks for no
// check, or the run's: the lease was not granted again since the writer
// was granted it, to another owner or to the same one.
func fence(p string) string {
	return `(` + p + `::bigint = 0 OR r.lease_token = ` + p + `::bigint)`
}

func appendStatement(wait bool) string {
	event := `CASE WHEN ` + keepWait + ` THEN r.wait_event ELSE '' END`
	until := `CASE WHEN ` + keepWait + ` THEN r.wait_until ELSE 0 END`
	woken := `CASE WHEN ` + keepWait + ` THEN r.wait_woken ELSE false END`
	consume := ""
	if wait {
		event = `CASE WHEN $25::boolean THEN $26::text ELSE ` + event + ` END`
		until = `CASE WHEN NOT $25::boolean THEN ` + until + `
			WHEN $27::bigint <> 0 THEN $27::bigint
			WHEN $28::bigint <= 0 THEN 0
			WHEN $28::bigint > 9223372036854775807 - n.now THEN 9223372036854775807
			ELSE n.now + $28::bigint END`
		woken = `CASE WHEN $25::boolean THEN false ELSE ` + woken + ` END`
		consume = `, consumed AS (
	UPDATE {schema}.signals s SET consumed = true
	FROM run
	WHERE s.run_id = run.id AND s.id = ANY ($29::bigint[]) AND NOT s.consumed
)`
	}
	return `WITH run AS (
	UPDATE {schema}.runs r SET
		last_seq = r.last_seq + cardinality($15::text[]),
		updated = CASE WHEN $4::boolean THEN n.now ELSE r.updated END,
		status = CASE WHEN $5::text = '' THEN r.status ELSE $5::text END,
		state = CASE WHEN $6::boolean THEN $7::bytea ELSE r.state END,
		error = CASE WHEN $8::boolean THEN $9::text ELSE r.error END,
		ended = CASE WHEN NOT $10::boolean THEN r.ended WHEN $11::bigint = 0 THEN n.now ELSE $11::bigint END,
		request_verb = CASE WHEN $12::boolean THEN '' ELSE r.request_verb END,
		request_step = CASE WHEN $12::boolean THEN '' ELSE r.request_step END,
		request_note = CASE WHEN $12::boolean THEN '' ELSE r.request_note END,
		wait_event = ` + event + `,
		wait_until = ` + until + `,
		wait_woken = ` + woken + `,
		lease_owner = CASE WHEN $13::boolean THEN '' ELSE r.lease_owner END,
		lease_expiry = CASE WHEN $13::boolean THEN 0 ELSE r.lease_expiry END
	FROM (SELECT ` + nowSQL + ` AS now) n
	WHERE r.id = $2 AND r.lease_owner = $3 AND r.lease_expiry > n.now AND ` + fence("$14") + `
	RETURNING r.id, n.now, r.last_seq - cardinality($15::text[]) AS seq
), ins AS (
	` + insertEntries + `
	SELECT run.id, run.seq + e.n, e.kind, e.step, e.attempt, e.attempts, e.error, e.state, e.status, e.verb, e.note,
		CASE WHEN e.at = 0 THEN run.now ELSE e.at END
	FROM run, ` + unnestEntries(15) + `
)` + consume + `
SELECT EXISTS (SELECT FROM run), EXISTS (SELECT FROM run) OR EXISTS (SELECT FROM {schema}.runs WHERE id = $2)`
}

// Waking. A waiting run is woken (wait_woken) once the run has an
// unconsumed signal for the event it waits for (a timer, waiting for no
// event, never is): pendingSignal. Setting a run waiting (appendWaitSQL) and
// recording a signal (signalSQL) both lock the run's row, and each, in a
// later statement of its transaction, so on a snapshot taken once it
// holds the lock, checks for the other: wokenSQL after a park looks for
// the signals, wakeSQL after a signal for the wait. Whichever takes the
// row second sees what the first committed, so a signal that races a
// park is never missed: a statement's snapshot is taken when it begins,
// and a check in the statement that waited for the lock would not see
// the writes of the transaction it waited for.
const pendingSignal = `EXISTS (SELECT FROM {schema}.signals s
	WHERE s.run_id = r.id AND NOT s.consumed AND r.wait_event <> '' AND s.event = r.wait_event)`

// wokenSQL wakes run $1, which $2, under the lease of token $3 (0: any),
// set waiting in this transaction, if a signal it waits for is there.
var wokenSQL = `UPDATE {schema}.runs r SET wait_woken = true
WHERE r.id = $1 AND r.lease_owner = $2 AND ` + fence("$3") + ` AND r.status = 'waiting' AND NOT r.wait_woken AND ` + pendingSignal

// signalSQL records a signal for run $2 unless the run's status is final
// ($6 lists the final statuses) or the delivery $5 is recorded already.
// It locks the run's row first (FOR NO KEY UPDATE: as an UPDATE would;
// entries may still be inserted beside it), and returns the run's status
// and whether it recorded the signal; no row if the run does not exist.
var signalSQL = `WITH r AS (
	SELECT id, status FROM {schema}.runs WHERE id = $2 FOR NO KEY UPDATE
), ins AS (
	INSERT INTO {schema}.signals (run_id, event, payload, delivery, at)
	SELECT r.id, $3::text, $4::bytea, $5::text, ` + nowSQL + `
	FROM r
	WHERE r.status <> ALL ($6::text[])
	ON CONFLICT (run_id, delivery) WHERE delivery <> '' DO NOTHING
	RETURNING id
)
SELECT r.status, EXISTS (SELECT FROM ins),
	$5::text <> '' AND EXISTS (SELECT FROM {schema}.signals s WHERE s.run_id = r.id AND s.delivery = $5::text)
FROM r`

// wakeSQL, after signalSQL, wakes run $2 if it waits for a signal it now
// has, and notifies channel $3 when it does.
var wakeSQL = `WITH woken AS (
	UPDATE {schema}.runs r SET wait_woken = true, updated = ` + nowSQL + `
	WHERE r.id = $2 AND r.status = 'waiting' AND NOT r.wait_woken AND ` + pendingSignal + `
	RETURNING r.id
)
SELECT pg_notify($3, '') FROM woken`

// requestSQL records a request on a run that is not final ($6 lists the
// final statuses), has none pending, and whose last entry is $8 unless
// $8 is 0 (journal.Request.Seen), with its entry of kind $7. It returns
// the run's status, pending verb and last Seq as they were, and whether
// it recorded the request; no row if the run does not exist. It locks the
// row first (FOR UPDATE reads it as last committed, after waiting for
// any other writer), then updates it as appendSQL does.
const requestSQL = `WITH r AS (
	SELECT r.id, r.status, r.request_verb, r.last_seq, n.now
	FROM {schema}.runs r, (SELECT ` + nowSQL + ` AS now) n
	WHERE r.id = $2
	FOR UPDATE OF r
), upd AS (
	UPDATE {schema}.runs t
	SET request_verb = $3::text, request_step = $4::text, request_note = $5::text, note = $5::text,
		updated = r.now, last_seq = t.last_seq + 1
	FROM r
	WHERE t.id = r.id AND r.status <> ALL ($6::text[]) AND r.request_verb = ''
		AND ($8::bigint = 0 OR r.last_seq = $8::bigint)
	RETURNING t.id, t.last_seq
), ins AS (
	` + insertEntries + `
	SELECT r.id, upd.last_seq, $7::text, $4::text, 0, 0, '', NULL, '', $3::text, $5::text, r.now
	FROM r JOIN upd ON upd.id = r.id
)
SELECT r.status, r.request_verb, r.last_seq, EXISTS (SELECT FROM upd) FROM r`

// claimSQL leases to $2, for $3 nanoseconds, each with its next lease
// token, up to $4 runs that need a worker and whose lease is free or
// expired, oldest first; it skips the rows other transactions hold.
// Runs need a worker when the runs_claim index has them (need: its WHERE
// clause is repeated word for word, so that the planner uses the index),
// or when they wait and their deadline has passed (due). due reads the
// runs_wait_until index in deadline order and takes the $4 that fell due
// first, so that a claim reads a few entries of it however many runs
// wait or fell due at once; the $4 oldest of both branches are leased.
// Each branch locks up to $4 rows: those the last LIMIT leaves stay
// locked, unchanged, until the batch commits.
var claimSQL = `WITH need AS (
	SELECT c.id, c.created FROM {schema}.runs c
	WHERE (c.status IN ('pending', 'running', 'compensating') OR c.request_verb <> '' OR (c.status = 'waiting' AND c.wait_woken))
	AND (c.lease_owner = '' OR c.lease_expiry <= ` + nowSQL + `)
	ORDER BY c.created, c.id
	LIMIT $4
	FOR UPDATE SKIP LOCKED
), due AS (
	SELECT c.id, c.created FROM {schema}.runs c
	WHERE c.status = 'waiting' AND c.wait_until <> 0 AND c.wait_until <= ` + nowSQL + ` AND NOT c.wait_woken
	AND (c.lease_owner = '' OR c.lease_expiry <= ` + nowSQL + `)
	ORDER BY c.wait_until, c.id
	LIMIT $4
	FOR UPDATE SKIP LOCKED
), pick AS (
	SELECT id FROM (SELECT * FROM need UNION SELECT * FROM due) u
	ORDER BY created, id
	LIMIT $4
)
UPDATE {schema}.runs r SET lease_owner = $2, lease_expiry = n.now + $3::bigint, lease_token = r.lease_token + 1
FROM (SELECT ` + nowSQL + ` AS now) n
WHERE r.id IN (SELECT id FROM pick)
RETURNING ` + headerColumns("n.now")

// acquireSQL leases a run whose lease is free or expired to $3 for $4
// nanoseconds, with its next lease token; acquireOwnerSQL then tells why
// it did not.
var (
	acquireSQL = `UPDATE {schema}.runs r SET lease_owner = $3, lease_expiry = n.now + $4::bigint, lease_token = r.lease_token + 1
FROM (SELECT ` + nowSQL + ` AS now) n
WHERE r.id = $2 AND (r.lease_owner = '' OR r.lease_expiry <= n.now)
RETURNING ` + headerColumns("n.now")
	acquireOwnerSQL = `SELECT lease_owner FROM {schema}.runs WHERE id = $1`
)

// renewSQL extends $3's unexpired lease to now plus $4 nanoseconds. It
// returns whether it did, and whether the run exists (looked up only if
// it did not).
const renewSQL = `WITH upd AS (
	UPDATE {schema}.runs r SET lease_expiry = n.now + $4::bigint
	FROM (SELECT ` + nowSQL + ` AS now) n
	WHERE r.id = $2 AND r.lease_owner = $3 AND r.lease_expiry > n.now
	RETURNING r.id
)
SELECT EXISTS (SELECT FROM upd), EXISTS (SELECT FROM upd) OR EXISTS (SELECT FROM {schema}.runs WHERE id = $2)`

const releaseSQL = `UPDATE {schema}.runs SET lease_owner = '', lease_expiry = 0 WHERE id = $1 AND lease_owner = $2`

// releaseHeldSQL, after appendWaitSQL and wokenSQL, ends $3's unexpired
// lease of token $4 (0: any) on run $2, as the append checked it: if the
// append failed its check, it finds no such lease and writes nothing
// either.
var releaseHeldSQL = `UPDATE {schema}.runs r SET lease_owner = '', lease_expiry = 0
FROM (SELECT ` + nowSQL + ` AS now) n
WHERE r.id = $2 AND r.lease_owner = $3 AND r.lease_expiry > n.now AND ` + fence("$4")

// notifySQL wakes the store's listeners when the batch commits.
const notifySQL = `SELECT pg_notify($1, '')`

// Reads. Those of headers take the time as writes do, in $1, for
// Wait.Due; list is the start of List's query, which adds its WHERE
// clause.
var (
	loadRunSQL     = `SELECT ` + headerColumns("n.now") + ` FROM {schema}.runs, (SELECT ` + nowSQL + ` AS now) n WHERE id = $2`
	loadEntriesSQL = `SELECT seq, kind, step, attempt, attempts, error, state, status, verb, note, at
	FROM {schema}.entries WHERE run_id = $1 ORDER BY seq`
	listSQL = `SELECT ` + headerColumns("n.now") + ` FROM {schema}.runs, (SELECT ` + nowSQL + ` AS now) n`
	// signalsSQL returns a run's unconsumed signals, oldest first, or one
	// row of NULLs if it has none; no row if the run does not exist.
	signalsSQL = `SELECT s.id, s.event, s.payload, s.delivery, s.at
	FROM {schema}.runs r LEFT JOIN {schema}.signals s ON s.run_id = r.id AND NOT s.consumed
	WHERE r.id = $1
	ORDER BY s.id`
)

// statements is the SQL of one store, its schema filled in.
type statements struct {
	create, append, appendWait, woken, request, claim, acquire, acquireOwner, renew, release string
	releaseHeld, signal, wake                                                                string
	loadRun, loadEntries, list, signals                                                      string
	savePlan, loadPlan                                                                       string
}

func newStatements(schema string) *statements {
	x := func(q string) string { return expand(q, schema) }
	return &statements{
		create:       x(createSQL),
		append:       x(appendSQL),
		appendWait:   x(appendWaitSQL),
		woken:        x(wokenSQL),
		request:      x(requestSQL),
		claim:        x(claimSQL),
		acquire:      x(acquireSQL),
		acquireOwner: x(acquireOwnerSQL),
		renew:        x(renewSQL),
		release:      x(releaseSQL),
		releaseHeld:  x(releaseHeldSQL),
		signal:       x(signalSQL),
		wake:         x(wakeSQL),
		loadRun:      x(loadRunSQL),
		loadEntries:  x(loadEntriesSQL),
		list:         x(listSQL),
		signals:      x(signalsSQL),
		savePlan:     x(savePlanSQL),
		loadPlan:     x(loadPlanSQL),
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

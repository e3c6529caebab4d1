package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sagakit/sagakit/internal/nanotime"
	"github.com/sagakit/sagakit/journal"
)

// The writes, as ops run by the writer inside its transaction. Each
// checks first and returns a journal error before it writes anything.

const insertRun = `INSERT INTO runs (id, saga, fingerprint, status, state, error, note,
	request_verb, request_step, request_note, created, updated, ended, lease_owner, lease_expiry,
	wait_event, wait_until, lease_token)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO NOTHING`

func (w *writer) create(run *journal.Run, entries []journal.Entry, now int64) error {
	delete(w.leases, run.ID)
	r := run
	// A run created waiting keeps its Wait (a new run has no signals to
	// be woken by); the wait columns stay clear for any other status.
	var wait journal.Wait
	if r.Status == journal.Waiting {
		wait = r.Wait
	}
	var token int64 // a lease granted by Create is the run's first
	if r.LeaseOwner != "" {
		token = 1
	}
	res, err := w.exec(insertRun, r.ID, r.Saga, r.Fingerprint, string(r.Status), r.State, r.Error, r.Note,
		string(r.Request.Verb), r.Request.Step, r.Request.Note, now, now, nanotime.From(r.Ended),
		r.LeaseOwner, nanotime.From(r.LeaseExpiry), wait.Event, nanotime.From(wait.Until), token)
	if err != nil {
		return fmt.Errorf("sqlite: create %q: %w", run.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		// The ID is taken (ON CONFLICT DO NOTHING): nothing written.
		return fmt.Errorf("sqlite: %w: %q", journal.ErrExists, run.ID)
	}
	if err := w.insertEntries(run.ID, 0, entries, now); err != nil {
		return fmt.Errorf("sqlite: create %q: %w", run.ID, err)
	}
	// The run's first Append (its next step's) needs no read: the cache
	// has what this transaction wrote, and a rollback empties it.
	w.leases[run.ID] = leaseRow{r.LeaseOwner, nanotime.From(r.LeaseExpiry), token, int64(len(entries))}
	return nil
}

// entryValues is the number of values an entry row binds; a plain
// entry's row (see plain) binds plainValues.
const (
	entryValues = 12
	plainValues = 8
)

// insertEntriesSQL[n] inserts n entries in one statement;
// insertPlainSQL[n] inserts n plain entries, whose empty texts are
// written as literals rather than bound: a step's start and end, most of
// what a run journals, bind a third fewer values.
var insertEntriesSQL, insertPlainSQL [9]string

func init() {
	const insert = `INSERT INTO entries (run_id, seq, kind, step, attempt, attempts, error, state, status, verb, note, at)
	VALUES `
	row := "(" + strings.Repeat("?, ", entryValues-1) + "?)"
	plainRow := "(?, ?, ?, ?, ?, ?, '', ?, '', '', '', ?)"
	for n := 1; n < len(insertEntriesSQL); n++ {
		insertEntriesSQL[n] = insert + strings.Repeat(row+", ", n-1) + row
		insertPlainSQL[n] = insert + strings.Repeat(plainRow+", ", n-1) + plainRow
	}
}

// plain reports whether e's error, status, verb and note are empty.
func plain(e *journal.Entry) bool {
	return e.Error == "" && e.Status == "" && e.Verb == "" && e.Note == ""
}

// lastAt returns the time of the last of entries, now if there are none.
func lastAt(entries []journal.Entry, now int64) int64 {
	if len(entries) == 0 {
		return now
	}
	if at := nanotime.From(entries[len(entries)-1].At); at != 0 {
		return at
	}
	return now
}

// insertEntries journals entries after seq, several rows per statement.
// An entry with a zero At gets now.
func (w *writer) insertEntries(runID string, seq int64, entries []journal.Entry, now int64) error {
	for len(entries) > 0 {
		n := min(len(entries), len(insertEntriesSQL)-1)
		query, per := insertPlainSQL[n], plainValues
		for i := range entries[:n] {
			if !plain(&entries[i]) {
				query, per = insertEntriesSQL[n], entryValues
				break
			}
		}
		args := make([]any, 0, n*per)
		for i := range entries[:n] {
			e := &entries[i]
			seq++
			at := nanotime.From(e.At)
			if at == 0 {
				at = now
			}
			if per == plainValues {
				args = append(args, runID, seq, string(e.Kind), e.Step, e.Attempt, e.Attempts, e.State, at)
			} else {
				args = append(args, runID, seq, string(e.Kind), e.Step, e.Attempt, e.Attempts,
					e.Error, e.State, string(e.Status), string(e.Verb), e.Note, at)
			}
		}
		if _, err := w.exec(query, args...); err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}

// leaseSQL reads what the lease checks need of a run, and its last Seq:
// the largest of its entries', a seek on their primary key.
const leaseSQL = `SELECT lease_owner, lease_expiry, lease_token,
	(SELECT coalesce(max(seq), 0) FROM entries WHERE run_id = r.id)
	FROM runs r WHERE r.id = ?`

// lease reads a run's lease and last Seq, from the writer's cache when it
// has them.
func (w *writer) lease(runID string) (leaseRow, error) {
	if l, ok := w.leases[runID]; ok {
		return l, nil
	}
	var l leaseRow
	err := w.queryRow(leaseSQL, []any{&l.owner, &l.expiry, &l.token, &l.lastSeq}, runID)
	if errors.Is(err, sql.ErrNoRows) {
		return leaseRow{}, fmt.Errorf("sqlite: %w: %q", journal.ErrNotFound, runID)
	}
	if err != nil {
		return leaseRow{}, fmt.Errorf("sqlite: read run %q: %w", runID, err)
	}
	w.leases[runID] = l
	return l, nil
}

// holds checks that owner holds an unexpired lease on runID (the lease
// of that token, unless token is 0) and returns the run's last Seq.
func (w *writer) holds(runID, owner string, token, now int64) (lastSeq int64, err error) {
	l, err := w.lease(runID)
	if err != nil {
		return 0, err
	}
	if l.owner != owner || l.expiry <= now {
		return 0, fmt.Errorf("sqlite: %w: run %q", journal.ErrLeaseLost, runID)
	}
	if token != 0 && l.token != token {
		return 0, fmt.Errorf("sqlite: %w: run %q was leased again since lease %d", journal.ErrLeaseLost, runID, token)
	}
	return l.lastSeq, nil
}

// Append's header update comes in variants by which fields change, so
// that an Append that changes only the state does not touch the status
// index. An Append with an empty Update does not write the header,
// unless it releases the lease (releaseHeldSQL).
const (
	setStatus = 1 << iota
	setState
	setError
	setEnded
	clearRequest
	setWait   // status 'waiting' with a WaitFor: woken if a signal it waits for is unconsumed
	clearWait // any other status
	release   // Update.Release: the lease ends with the write
)

var updateSQL [256]string

func init() {
	for mask := range updateSQL {
		var b strings.Builder
		b.WriteString("UPDATE runs SET updated = ?")
		for _, f := range []struct {
			bit int
			set string
		}{
			{setStatus, ", status = ?"},
			{setState, ", state = ?"},
			{setError, ", error = ?"},
			{setEnded, ", ended = ?"},
			{clearRequest, ", request_verb = '', request_step = '', request_note = ''"},
			// After the Consume of the same Update, in the same
			// transaction: the signals it consumed do not count.
			{setWait, `, wait_event = ?, wait_until = ?, wait_woken = EXISTS (SELECT 1 FROM signals
				WHERE run_id = runs.id AND consumed = 0 AND ? <> '' AND event = ?)`},
			{clearWait, ", wait_event = '', wait_until = 0, wait_woken = 0"},
			{release, ", lease_owner = '', lease_expiry = 0"},
		} {
			if mask&f.bit != 0 {
				b.WriteString(f.set)
			}
		}
		// The lease condition repeats holds' check: belt and braces.
		b.WriteString(" WHERE id = ? AND lease_owner = ? AND lease_expiry > ?")
		updateSQL[mask] = b.String()
	}
}

func (w *writer) append(runID, owner string, u *journal.Update, entries []journal.Entry, now int64) error {
	seq, err := w.holds(runID, owner, u.Lease, now)
	if err != nil {
		return err
	}
	if err := w.consume(runID, u.Consume); err != nil {
		return fmt.Errorf("sqlite: append to %q: %w", runID, err)
	}
	if err := w.update(runID, owner, u, entries, now); err != nil {
		return fmt.Errorf("sqlite: append to %q: %w", runID, err)
	}
	if err := w.insertEntries(runID, seq, entries, now); err != nil {
		return fmt.Errorf("sqlite: append to %q: %w", runID, err)
	}
	if l, ok := w.leases[runID]; ok && !u.Release {
		l.lastSeq = seq + int64(len(entries))
		w.leases[runID] = l
	} else {
		delete(w.leases, runID) // the cache keeps the runs this process drives
	}
	return nil
}

// waitUntil is the deadline of a wait in Unix nanoseconds: the one kept,
// else now+For, else 0 (none).
func waitUntil(wf *journal.WaitFor, now int64) int64 {
	switch {
	case !wf.Until.IsZero():
		return nanotime.From(wf.Until)
	case wf.For <= 0:
		return 0
	case now > 0 && int64(wf.For) > math.MaxInt64-now:
		return math.MaxInt64
	}
	return now + int64(wf.For)
}

// emptyUpdate reports whether u leaves the header alone, the lease
// aside (Release).
func emptyUpdate(u *journal.Update) bool {
	return u.Status == "" && u.State == nil && u.Error == nil && !u.Ended && !u.ClearRequest &&
		u.Wait == nil && len(u.Consume) == 0
}

// consumeSQL marks one of a run's signals consumed.
const consumeSQL = `UPDATE signals SET consumed = 1 WHERE run_id = ? AND id = ?`

// consume marks the signals ids of runID consumed; IDs of other runs'
// signals are ignored.
func (w *writer) consume(runID string, ids []int64) error {
	for _, id := range ids {
		if _, err := w.exec(consumeSQL, runID, id); err != nil {
			return fmt.Errorf("consume signal %d: %w", id, err)
		}
	}
	return nil
}

// releaseHeldSQL ends owner's unexpired lease on a run, for an Append
// whose Update releases the lease and leaves the header alone.
const releaseHeldSQL = `UPDATE runs SET lease_owner = '', lease_expiry = 0
	WHERE id = ? AND lease_owner = ? AND lease_expiry > ?`

// update applies u to the header of a run owner holds, unless u is
// empty, and ends the lease if u says so.
func (w *writer) update(runID, owner string, u *journal.Update, entries []journal.Entry, now int64) error {
	if emptyUpdate(u) {
		if !u.Release {
			return nil // Updated stays
		}
		return w.checked(w.exec(releaseHeldSQL, runID, owner, now)) // Updated stays too
	}
	mask := 0
	if u.Release {
		mask |= release
	}
	args := make([]any, 0, 12)
	args = append(args, now)
	if u.Status != "" {
		mask |= setStatus
		args = append(args, string(u.Status))
	}
	if u.State != nil {
		mask |= setState
		args = append(args, u.State)
	}
	if u.Error != nil {
		mask |= setError
		args = append(args, *u.Error)
	}
	if u.Ended {
		mask |= setEnded
		args = append(args, lastAt(entries, now))
	}
	if u.ClearRequest {
		mask |= clearRequest
	}
	switch {
	case u.Status == journal.Waiting && u.Wait != nil:
		mask |= setWait
		ev := u.Wait.Event
		args = append(args, ev, waitUntil(u.Wait, now), ev, ev)
	case u.Status != "" && u.Status != journal.Waiting:
		mask |= clearWait
	}
	args = append(args, runID, owner, now)
	return w.checked(w.exec(updateSQL[mask], args...))
}

// checked returns the error of an update of a run's header under its
// lease, which must have changed one row.
func (w *writer) checked(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		// holds saw the lease in this transaction: not a journal error.
		return fmt.Errorf("header update: lease check failed on %d rows", n)
	}
	return nil
}

// claimSQL leases the oldest runs that need a worker: the n oldest of
// the runs the runs_claim index holds (unfinished, requested, woken) and
// the due runs the runs_due index finds by deadline, whose WHERE clauses
// (schema version 3) the two branches repeat. A run in both comes once.
const claimSQL = `UPDATE runs SET lease_owner = ?1, lease_expiry = ?2, lease_token = lease_token + 1
	WHERE id IN (
		SELECT id FROM (
			SELECT id, created FROM (
				SELECT id, created FROM runs
				WHERE (status IN ('pending', 'running', 'compensating') OR request_verb <> '' OR wait_woken <> 0)
				AND (lease_owner = '' OR lease_expiry <= ?3)
				ORDER BY created, id LIMIT ?4)
			UNION
			SELECT id, created FROM (
				SELECT id, created FROM runs
				WHERE wait_until <> 0 AND wait_until <= ?3
				AND (lease_owner = '' OR lease_expiry <= ?3)
				ORDER BY created, id LIMIT ?4))
		ORDER BY created, id LIMIT ?4)
	RETURNING ` + runColumns

func (w *writer) claim(owner string, expiry int64, n int, now int64) ([]journal.Run, error) {
	defer clear(w.leases)
	rows, err := w.query(claimSQL, owner, expiry, now, n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim: %w", err)
	}
	runs, err := scanRuns(rows, now)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim: %w", err)
	}
	slices.SortFunc(runs, func(a, b journal.Run) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return runs, nil
}

func (w *writer) acquire(runID, owner string, ttl, now int64) (journal.Run, error) {
	defer delete(w.leases, runID)
	l, err := w.lease(runID)
	if err != nil {
		return journal.Run{}, err
	}
	if l.owner != "" && l.expiry > now {
		return journal.Run{}, fmt.Errorf("sqlite: %w: run %q is leased to %q", journal.ErrLeaseLost, runID, l.owner)
	}
	rows, err := w.query(`UPDATE runs SET lease_owner = ?, lease_expiry = ?, lease_token = lease_token + 1 WHERE id = ? RETURNING `+runColumns,
		owner, now+ttl, runID)
	if err != nil {
		return journal.Run{}, fmt.Errorf("sqlite: acquire %q: %w", runID, err)
	}
	runs, err := scanRuns(rows, now)
	if err != nil {
		return journal.Run{}, fmt.Errorf("sqlite: acquire %q: %w", runID, err)
	}
	if len(runs) != 1 {
		return journal.Run{}, fmt.Errorf("sqlite: acquire %q: updated %d rows", runID, len(runs))
	}
	return runs[0], nil
}

func (w *writer) renew(runID, owner string, ttl, now int64) error {
	defer delete(w.leases, runID)
	if _, err := w.holds(runID, owner, 0, now); err != nil {
		return err
	}
	if _, err := w.exec(`UPDATE runs SET lease_expiry = ? WHERE id = ?`, now+ttl, runID); err != nil {
		return fmt.Errorf("sqlite: renew %q: %w", runID, err)
	}
	return nil
}

func (w *writer) release(runID, owner string) error {
	defer delete(w.leases, runID)
	_, err := w.exec(`UPDATE runs SET lease_owner = '', lease_expiry = 0 WHERE id = ? AND lease_owner = ?`, runID, owner)
	if err != nil {
		return fmt.Errorf("sqlite: release %q: %w", runID, err)
	}
	return nil
}

func (w *writer) request(runID string, r *journal.Request, now int64) error {
	defer delete(w.leases, runID)
	var status, pending string
	var seq int64
	err := w.queryRow(`SELECT status, request_verb, (SELECT coalesce(max(seq), 0) FROM entries WHERE run_id = r.id)
		FROM runs r WHERE r.id = ?`, []any{&status, &pending, &seq}, runID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %w: %q", journal.ErrNotFound, runID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: request on %q: %w", runID, err)
	}
	if journal.Status(status).Final() {
		return fmt.Errorf("sqlite: %w: run %q is %s", journal.ErrFinal, runID, status)
	}
	if pending != "" {
		return fmt.Errorf("sqlite: %w: run %q has %s pending", journal.ErrPending, runID, pending)
	}
	if r.Seen != 0 && r.Seen != seq {
		return fmt.Errorf("sqlite: %w: run %q has entries after %d, up to %d", journal.ErrStale, runID, r.Seen, seq)
	}
	_, err = w.exec(`UPDATE runs SET request_verb = ?, request_step = ?, request_note = ?, note = ?, updated = ?
		WHERE id = ?`, string(r.Verb), r.Step, r.Note, r.Note, now, runID)
	if err != nil {
		return fmt.Errorf("sqlite: request on %q: %w", runID, err)
	}
	e := []journal.Entry{{Kind: journal.RequestMade, Verb: r.Verb, Step: r.Step, Note: r.Note}}
	if err := w.insertEntries(runID, seq, e, now); err != nil {
		return fmt.Errorf("sqlite: request on %q: %w", runID, err)
	}
	return nil
}

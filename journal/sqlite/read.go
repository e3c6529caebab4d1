package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/sagakit/sagakit/internal/nanotime"
	"github.com/sagakit/sagakit/journal"
)

// Reads run on the read-only pool, beside the writer: in WAL mode they
// see the last commit and never wait for the writer.

// runColumns are a run header's columns, in scanRun's order.
const runColumns = `id, saga, fingerprint, status, state, error, note,
	request_verb, request_step, request_note, created, updated, ended, lease_owner, lease_expiry,
	wait_event, wait_until, wait_woken, lease_token`

type scanner interface{ Scan(dest ...any) error }

// scanRun reads a row of runColumns. now, the store's time in Unix
// nanoseconds, decides Wait.Due.
func scanRun(s scanner, now int64) (journal.Run, error) {
	var (
		r                               journal.Run
		status, verb                    string
		created, updated, ended, expiry int64
		until                           int64
	)
	err := s.Scan(&r.ID, &r.Saga, &r.Fingerprint, &status, &r.State, &r.Error, &r.Note,
		&verb, &r.Request.Step, &r.Request.Note, &created, &updated, &ended, &r.LeaseOwner, &expiry,
		&r.Wait.Event, &until, &r.Wait.Woken, &r.LeaseToken)
	if err != nil {
		return journal.Run{}, err
	}
	r.Status, r.Request.Verb = journal.Status(status), journal.Verb(verb)
	r.Created, r.Updated, r.Ended, r.LeaseExpiry = nanotime.Time(created), nanotime.Time(updated), nanotime.Time(ended), nanotime.Time(expiry)
	r.Wait.Until = nanotime.Time(until)
	r.Wait.Due = r.Status == journal.Waiting && until != 0 && until <= now
	return r, nil
}

// scanRuns reads and closes rows of runColumns.
func scanRuns(rows *sql.Rows, now int64) ([]journal.Run, error) {
	defer rows.Close()
	var runs []journal.Run
	for rows.Next() {
		r, err := scanRun(rows, now)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, rows.Err()
}

// Load implements [journal.Store.Load]. It reads the header and the
// journal in one read transaction, so they agree.
func (s *Store) Load(ctx context.Context, runID string) (journal.Run, []journal.Entry, error) {
	if !s.reading() {
		return journal.Run{}, nil, journal.ErrClosed
	}
	defer s.mu.RUnlock()
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return journal.Run{}, nil, fmt.Errorf("sqlite: load %q: %w", runID, err)
	}
	defer func() { _ = tx.Rollback() }() // read-only: nothing to commit

	run, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, runID), s.now())
	if errors.Is(err, sql.ErrNoRows) {
		return journal.Run{}, nil, fmt.Errorf("sqlite: %w: %q", journal.ErrNotFound, runID)
	}
	if err != nil {
		return journal.Run{}, nil, fmt.Errorf("sqlite: load %q: %w", runID, err)
	}
	entries, err := loadEntries(ctx, tx, runID)
	if err != nil {
		return journal.Run{}, nil, fmt.Errorf("sqlite: load %q: %w", runID, err)
	}
	return run, entries, nil
}

func loadEntries(ctx context.Context, tx *sql.Tx, runID string) ([]journal.Entry, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, kind, step, attempt, attempts, error, state, status, verb, note, at
		FROM entries WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var entries []journal.Entry
	for rows.Next() {
		var (
			e            journal.Entry
			kind, status string
			verb         string
			at           int64
		)
		err := rows.Scan(&e.Seq, &kind, &e.Step, &e.Attempt, &e.Attempts, &e.Error, &e.State, &status, &verb, &e.Note, &at)
		if err != nil {
			return nil, err
		}
		e.Kind, e.Status, e.Verb, e.At = journal.Kind(kind), journal.Status(status), journal.Verb(verb), nanotime.Time(at)
		entries = append(entries, e)
	}
	return entries, rows.Err()
}

// List implements [journal.Store.List]. Runs created at the same instant
// come in descending ID order.
func (s *Store) List(ctx context.Context, f journal.Filter) ([]journal.Run, error) {
	if !s.reading() {
		return nil, journal.ErrClosed
	}
	defer s.mu.RUnlock()
	var (
		where []string
		args  []any
	)
	if len(f.Status) > 0 {
		marks := strings.Repeat(", ?", len(f.Status))[2:]
		where = append(where, "status IN ("+marks+")")
		for _, st := range f.Status {
			args = append(args, string(st))
		}
	}
	if f.Saga != "" {
		where = append(where, "saga = ?")
		args = append(args, f.Saga)
	}
	if !f.CreatedAfter.IsZero() {
		where = append(where, "created > ?")
		args = append(args, nanotime.Clamp(f.CreatedAfter))
	}
	if !f.CreatedBefore.IsZero() {
		where = append(where, "created < ?")
		args = append(args, nanotime.Clamp(f.CreatedBefore))
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created DESC, id DESC"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	runs, err := scanRuns(rows, s.now())
	if err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	return runs, nil
}

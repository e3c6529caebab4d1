package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sagakit/sagakit/internal/nanotime"
	"github.com/sagakit/sagakit/journal"
)

// Reads go straight to the pool, beside the writers.

// scanRun reads a row of headerColumns.
func scanRun(row pgx.Row) (journal.Run, error) {
	var (
		r                                      journal.Run
		status, verb                           string
		created, updated, ended, expiry, until int64
	)
	err := row.Scan(&r.ID, &r.Saga, &r.Fingerprint, &status, &r.State, &r.Error, &r.Note,
		&verb, &r.Request.Step, &r.Request.Note, &created, &updated, &ended, &r.LeaseOwner, &expiry, &r.LeaseToken,
		&r.Wait.Event, &until, &r.Wait.Woken, &r.Wait.Due)
	if err != nil {
		return journal.Run{}, err
	}
	r.Status, r.Request.Verb = journal.Status(status), journal.Verb(verb)
	r.Created, r.Updated, r.Ended, r.LeaseExpiry = nanotime.Time(created), nanotime.Time(updated), nanotime.Time(ended), nanotime.Time(expiry)
	r.Wait.Until = nanotime.Time(until)
	return r, nil
}

// now is the time reads compare with (Wait.Due), as the $1 of a
// statement: the test's clock (WithNow), or NULL for the database's.
func (s *Store) now() any {
	if s.testNow == nil {
		return nil
	}
	return s.testNow().UnixNano()
}

// scanRuns reads and closes rows of headerColumns.
func scanRuns(rows pgx.Rows) ([]journal.Run, error) {
	defer rows.Close()
	var runs []journal.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, rows.Err()
}

// Load implements [journal.Store.Load]. It reads the header and the
// journal in one read-only, repeatable-read transaction, so they agree,
// in one round trip.
func (s *Store) Load(ctx context.Context, runID string) (journal.Run, []journal.Entry, error) {
	if !s.reading() {
		return journal.Run{}, nil, journal.ErrClosed
	}
	defer s.mu.RUnlock()
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
	b.Queue(s.sql.loadRun, s.now(), runID)
	b.Queue(s.sql.loadEntries, runID)
	b.Queue("COMMIT")
	br := s.pool.SendBatch(ctx, b)
	run, entries, err := readLoad(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return journal.Run{}, nil, fmt.Errorf("postgres: %w: %q", journal.ErrNotFound, runID)
	case err != nil:
		return journal.Run{}, nil, fmt.Errorf("postgres: load %q: %w", runID, err)
	}
	return run, entries, nil
}

func readLoad(br pgx.BatchResults) (journal.Run, []journal.Entry, error) {
	if _, err := br.Exec(); err != nil {
		return journal.Run{}, nil, err
	}
	run, runErr := scanRun(br.QueryRow())
	if runErr != nil && !errors.Is(runErr, pgx.ErrNoRows) {
		return journal.Run{}, nil, runErr
	}
	rows, err := br.Query()
	if err != nil {
		return journal.Run{}, nil, err
	}
	defer rows.Close()
	var entries []journal.Entry
	for rows.Next() {
		var (
			e                  journal.Entry
			kind, status, verb string
			attempt, attempts  int64
			at                 int64
		)
		err := rows.Scan(&e.Seq, &kind, &e.Step, &attempt, &attempts, &e.Error, &e.State, &status, &verb, &e.Note, &at)
		if err != nil {
			return journal.Run{}, nil, err
		}
		e.Kind, e.Status, e.Verb, e.At = journal.Kind(kind), journal.Status(status), journal.Verb(verb), nanotime.Time(at)
		e.Attempt, e.Attempts = int(attempt), int(attempts)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return journal.Run{}, nil, err
	}
	if _, err := br.Exec(); err != nil {
		return journal.Run{}, nil, err
	}
	return run, entries, runErr
}

// List implements [journal.Store.List]. Runs created at the same instant
// come in descending ID order.
func (s *Store) List(ctx context.Context, f journal.Filter) ([]journal.Run, error) {
	if !s.reading() {
		return nil, journal.ErrClosed
	}
	defer s.mu.RUnlock()
	var where []string
	args := []any{s.now()}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.Status) > 0 {
		sts := make([]string, len(f.Status))
		for i, st := range f.Status {
			sts[i] = string(st)
		}
		where = append(where, "status = ANY("+arg(sts)+"::text[])")
	}
	if f.Saga != "" {
		where = append(where, "saga = "+arg(f.Saga))
	}
	if !f.CreatedAfter.IsZero() {
		where = append(where, "created > "+arg(nanotime.Clamp(f.CreatedAfter)))
	}
	if !f.CreatedBefore.IsZero() {
		where = append(where, "created < "+arg(nanotime.Clamp(f.CreatedBefore)))
	}
	q := s.sql.list
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created DESC, id DESC"
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list: %w", err)
	}
	runs, err := scanRuns(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: list: %w", err)
	}
	return runs, nil
}

// Signals implements [journal.Signaler.Signals]: the run's unconsumed
// signals, oldest first. It fails with [journal.ErrNotFound] for a run
// that does not exist.
func (s *Store) Signals(ctx context.Context, runID string) ([]journal.Signal, error) {
	if !s.reading() {
		return nil, journal.ErrClosed
	}
	defer s.mu.RUnlock()
	rows, err := s.pool.Query(ctx, s.sql.signals, runID)
	if err != nil {
		return nil, fmt.Errorf("postgres: signals of %q: %w", runID, err)
	}
	defer rows.Close()
	var (
		sigs  []journal.Signal
		found bool
	)
	for rows.Next() {
		found = true
		var (
			id              *int64
			event, delivery *string
			payload         []byte
			at              *int64
		)
		if err := rows.Scan(&id, &event, &payload, &delivery, &at); err != nil {
			return nil, fmt.Errorf("postgres: signals of %q: %w", runID, err)
		}
		if id == nil {
			continue // the run, without signals
		}
		sigs = append(sigs, journal.Signal{ID: *id, Event: *event, Payload: payload, Delivery: *delivery, At: nanotime.Time(*at)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: signals of %q: %w", runID, err)
	}
	if !found {
		return nil, fmt.Errorf("postgres: %w: %q", journal.ErrNotFound, runID)
	}
	return sigs, nil
}

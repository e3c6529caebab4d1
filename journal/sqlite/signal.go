package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sagakit/sagakit/internal/nanotime"
	"github.com/sagakit/sagakit/journal"
)

// Signals: rows of the signals table, recorded by Signal through the
// writer, consumed by an Append's Update.Consume, listed by Signals on
// the read pool.

// Signal implements [journal.Signaler.Signal]. The signal's ID and At are
// the store's; a signal that wakes the run wakes this process's workers
// (see [Store.Wakeups]).
func (s *Store) Signal(ctx context.Context, runID string, sig journal.Signal) (bool, error) {
	if runID == "" {
		return false, errEmptyID
	}
	var recorded, woke bool
	err := s.do(ctx, func(w *writer, now int64) error {
		var err error
		recorded, woke, err = w.signal(runID, &sig, now)
		return err
	})
	if err != nil {
		return false, err
	}
	if woke {
		s.wake.Fire()
	}
	return recorded, nil
}

const (
	signalRunSQL    = `SELECT status, wait_event, wait_woken FROM runs WHERE id = ?`
	insertSignalSQL = `INSERT INTO signals (run_id, event, payload, delivery, at) VALUES (?, ?, ?, ?, ?)
	ON CONFLICT DO NOTHING`
	wakeSQL = `UPDATE runs SET wait_woken = 1, updated = ? WHERE id = ?`
)

// signal records sig for runID and wakes the run if it waits for it. It
// reports whether it recorded sig (not if its delivery was recorded
// before) and whether it woke the run. It leaves leases and Seqs alone,
// so the writer's lease cache stays good.
func (w *writer) signal(runID string, sig *journal.Signal, now int64) (recorded, woke bool, err error) {
	var (
		status, event string
		woken         bool
	)
	err = w.queryRow(signalRunSQL, []any{&status, &event, &woken}, runID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, fmt.Errorf("sqlite: %w: %q", journal.ErrNotFound, runID)
	}
	if err != nil {
		return false, false, fmt.Errorf("sqlite: signal %q: %w", runID, err)
	}
	if st := journal.Status(status); st.Final() {
		if sig.Delivery != "" {
			var one int
			err := w.queryRow(`SELECT 1 FROM signals WHERE run_id = ? AND delivery = ?`, []any{&one}, runID, sig.Delivery)
			if err == nil {
				return false, false, nil // a retried delivery: answered as the first one
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return false, false, fmt.Errorf("sqlite: signal %q: %w", runID, err)
			}
		}
		return false, false, fmt.Errorf("sqlite: %w: run %q is %s", journal.ErrFinal, runID, st)
	}
	// The only uniqueness a new row can break is signals_delivery's.
	res, err := w.exec(insertSignalSQL, runID, sig.Event, sig.Payload, sig.Delivery, now)
	if err != nil {
		return false, false, fmt.Errorf("sqlite: signal %q: %w", runID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, false, fmt.Errorf("sqlite: signal %q: %w", runID, err)
	}
	if n == 0 {
		return false, false, nil // a delivery recorded before: nothing written
	}
	if journal.Status(status) != journal.Waiting || woken || event == "" || event != sig.Event {
		return true, false, nil
	}
	if _, err := w.exec(wakeSQL, now, runID); err != nil {
		return false, false, fmt.Errorf("sqlite: signal %q: %w", runID, err)
	}
	return true, true, nil
}

// Signals implements [journal.Signaler.Signals]. It reads the run and its
// signals in one read transaction.
func (s *Store) Signals(ctx context.Context, runID string) ([]journal.Signal, error) {
	if !s.reading() {
		return nil, journal.ErrClosed
	}
	defer s.mu.RUnlock()
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: signals of %q: %w", runID, err)
	}
	defer func() { _ = tx.Rollback() }() // read-only: nothing to commit
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = ?`, runID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: %w: %q", journal.ErrNotFound, runID)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: signals of %q: %w", runID, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, event, payload, delivery, at FROM signals
		WHERE run_id = ? AND consumed = 0 ORDER BY id`, runID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: signals of %q: %w", runID, err)
	}
	defer rows.Close()
	var sigs []journal.Signal
	for rows.Next() {
		var (
			sig journal.Signal
			at  int64
		)
		if err := rows.Scan(&sig.ID, &sig.Event, &sig.Payload, &sig.Delivery, &at); err != nil {
			return nil, fmt.Errorf("sqlite: signals of %q: %w", runID, err)
		}
		sig.At = nanotime.Time(at)
		sigs = append(sigs, sig)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: signals of %q: %w", runID, err)
	}
	return sigs, nil
}

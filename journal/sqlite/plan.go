package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sagakit/sagakit/journal"
)

// Plans: rows of the plans table, one per fingerprint, saved by SavePlan
// through the writer and read by LoadPlan on the read pool.

var _ journal.Planner = (*Store)(nil)

var errEmptyFingerprint = errors.New("sqlite: plan without a fingerprint")

const savePlanSQL = `INSERT INTO plans (fingerprint, saga, steps) VALUES (?, ?, ?)
	ON CONFLICT (fingerprint) DO NOTHING`

// SavePlan implements [journal.Planner.SavePlan]. It writes through the
// writer, like every write; a plan whose fingerprint is recorded already
// is left as it is.
func (s *Store) SavePlan(ctx context.Context, p journal.Plan) error {
	if p.Fingerprint == "" {
		return errEmptyFingerprint
	}
	steps, err := encodeSteps(p.Steps)
	if err != nil {
		return fmt.Errorf("sqlite: save plan %q: %w", p.Fingerprint, err)
	}
	return s.do(ctx, func(w *writer, _ int64) error {
		if _, err := w.exec(savePlanSQL, p.Fingerprint, p.Saga, steps); err != nil {
			return fmt.Errorf("sqlite: save plan %q: %w", p.Fingerprint, err)
		}
		return nil
	})
}

// LoadPlan implements [journal.Planner.LoadPlan], on the read pool.
func (s *Store) LoadPlan(ctx context.Context, fingerprint string) (journal.Plan, error) {
	if !s.reading() {
		return journal.Plan{}, journal.ErrClosed
	}
	defer s.mu.RUnlock()
	p := journal.Plan{Fingerprint: fingerprint}
	var steps []byte
	err := s.rdb.QueryRowContext(ctx, `SELECT saga, steps FROM plans WHERE fingerprint = ?`, fingerprint).
		Scan(&p.Saga, &steps)
	if errors.Is(err, sql.ErrNoRows) {
		return journal.Plan{}, fmt.Errorf("sqlite: %w: no plan of fingerprint %q", journal.ErrNotFound, fingerprint)
	}
	if err != nil {
		return journal.Plan{}, fmt.Errorf("sqlite: load plan %q: %w", fingerprint, err)
	}
	if p.Steps, err = decodeSteps(steps); err != nil {
		return journal.Plan{}, fmt.Errorf("sqlite: load plan %q: %w", fingerprint, err)
	}
	return p, nil
}

// encodeSteps returns steps as the steps column holds them.
func encodeSteps(steps []journal.PlanStep) (string, error) {
	b, err := journal.EncodePlanSteps(steps)
	return string(b), err
}

// decodeSteps reads a steps column.
func decodeSteps(data []byte) ([]journal.PlanStep, error) { return journal.DecodePlanSteps(data) }

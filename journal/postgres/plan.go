package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sagakit/sagakit/journal"
)

// Plans: rows of the plans table, one per fingerprint. SavePlan and
// LoadPlan are one statement each, straight on the pool.

var _ journal.Planner = (*Store)(nil)

var errEmptyFingerprint = errors.New("postgres: plan without a fingerprint")

const (
	savePlanSQL = `INSERT INTO {schema}.plans (fingerprint, saga, steps) VALUES ($1::text, $2::text, $3::jsonb)
	ON CONFLICT (fingerprint) DO NOTHING`
	loadPlanSQL = `SELECT saga, steps::text FROM {schema}.plans WHERE fingerprint = $1`
)

// SavePlan implements [journal.Planner.SavePlan]: one INSERT, its own
// transaction, straight on the pool rather than through the writers (a
// definition saves its plan once; the statement holds no lock a batch
// could be waiting for while it waits). A plan whose fingerprint is
// recorded already is left as it is.
func (s *Store) SavePlan(ctx context.Context, p journal.Plan) error {
	if p.Fingerprint == "" {
		return errEmptyFingerprint
	}
	steps, err := encodeSteps(p.Steps)
	if err != nil {
		return fmt.Errorf("postgres: save plan %q: %w", p.Fingerprint, err)
	}
	if !s.reading() {
		return journal.ErrClosed
	}
	defer s.mu.RUnlock()
	if _, err := s.pool.Exec(ctx, s.sql.savePlan, p.Fingerprint, p.Saga, steps); err != nil {
		return fmt.Errorf("postgres: save plan %q: %w", p.Fingerprint, err)
	}
	return nil
}

// LoadPlan implements [journal.Planner.LoadPlan].
func (s *Store) LoadPlan(ctx context.Context, fingerprint string) (journal.Plan, error) {
	if !s.reading() {
		return journal.Plan{}, journal.ErrClosed
	}
	defer s.mu.RUnlock()
	p := journal.Plan{Fingerprint: fingerprint}
	var steps []byte
	err := s.pool.QueryRow(ctx, s.sql.loadPlan, fingerprint).Scan(&p.Saga, &steps)
	if errors.Is(err, pgx.ErrNoRows) {
		return journal.Plan{}, fmt.Errorf("postgres: %w: no plan of fingerprint %q", journal.ErrNotFound, fingerprint)
	}
	if err != nil {
		return journal.Plan{}, fmt.Errorf("postgres: load plan %q: %w", fingerprint, err)
	}
	if p.Steps, err = decodeSteps(steps); err != nil {
		return journal.Plan{}, fmt.Errorf("postgres: load plan %q: %w", fingerprint, err)
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

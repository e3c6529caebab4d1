package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sagakit/sagakit/journal"
)

// Plans: rows of the plans table, one per fingerprint, saved by SavePlan
// through the writer and read by LoadPlan on the read pool.

var _ journal.Planner = (*Store)(nil)

var errEmptyFingerprint = errors.New("sqlite: plan without a fingerprint")

// planStep is a step of a plan as its row's steps column holds it, in
// JSON: [{"name": ..., "kind": ..., "after": [...]}], in declaration
// order. The field names are the stored format: never change them.
type planStep struct {
	Name  string   `json:"name"`
	Kind  string   `json:"kind"`
	After []string `json:"after"`
}

// encodeSteps returns steps as the steps column holds them. A step
// without predecessors has "after": [], and a plan without steps is [].
func encodeSteps(steps []journal.PlanStep) (string, error) {
	out := make([]planStep, len(steps))
	for i, s := range steps {
		after := s.After
		if after == nil {
			after = []string{}
		}
		out[i] = planStep{Name: s.Name, Kind: s.Kind, After: after}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// decodeSteps reads a steps column. Empty lists come back nil.
func decodeSteps(data []byte) ([]journal.PlanStep, error) {
	var in []planStep
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, nil
	}
	steps := make([]journal.PlanStep, len(in))
	for i, s := range in {
		steps[i] = journal.PlanStep{Name: s.Name, Kind: s.Kind}
		if len(s.After) > 0 {
			steps[i].After = s.After
		}
	}
	return steps, nil
}

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

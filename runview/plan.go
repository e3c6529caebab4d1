package runview

import (
	"context"
	"errors"
	"fmt"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/journal"
)

// ErrNoPlan means the store keeps no plan for a definition: it does not
// implement [journal.Planner], or its runs were journaled before plans
// were kept.
var ErrNoPlan = errors.New("runview: no plan recorded")

// Plan returns the plan the store keeps under fingerprint, compiled. It
// fails with an error matching [ErrNoPlan] when the store keeps none.
func Plan(ctx context.Context, store journal.Store, fingerprint string) (*builder.Plan, error) {
	pl, ok := store.(journal.Planner)
	if !ok {
		return nil, fmt.Errorf("%w: the store keeps no plans", ErrNoPlan)
	}
	p, err := pl.LoadPlan(ctx, fingerprint)
	if errors.Is(err, journal.ErrNotFound) {
		return nil, fmt.Errorf("%w for fingerprint %.12s", ErrNoPlan, fingerprint)
	}
	if err != nil {
		return nil, err
	}
	return compilePlan(p)
}

// SagaPlan returns the plan of the newest run of the saga named name, and
// that run's header. It fails with an error matching [journal.ErrNotFound]
// when the store holds no run of that saga, and with one matching
// [ErrNoPlan] when it keeps no plan for it.
func SagaPlan(ctx context.Context, store journal.Store, name string) (*builder.Plan, journal.Run, error) {
	runs, err := store.List(ctx, journal.Filter{Saga: name, Limit: 1})
	if err != nil {
		return nil, journal.Run{}, err
	}
	if len(runs) == 0 {
		return nil, journal.Run{}, fmt.Errorf("%w: no run of saga %q", journal.ErrNotFound, name)
	}
	p, err := Plan(ctx, store, runs[0].Fingerprint)
	return p, runs[0], err
}

// compilePlan rebuilds a journaled plan.
func compilePlan(p journal.Plan) (*builder.Plan, error) {
	decls := make([]builder.Decl, len(p.Steps))
	for i, s := range p.Steps {
		k, err := parseKind(s.Kind)
		if err != nil {
			return nil, fmt.Errorf("runview: plan of saga %q: step %q: %w", p.Saga, s.Name, err)
		}
		decls[i] = builder.Decl{Name: s.Name, Kind: k, After: s.After}
	}
	bp, err := builder.Compile(decls)
	if err != nil {
		return nil, fmt.Errorf("runview: plan of saga %q: %w", p.Saga, err)
	}
	return bp, nil
}

func parseKind(s string) (builder.Kind, error) {
	for _, k := range []builder.Kind{builder.Compensatable, builder.Pivot, builder.Retriable} {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown step kind %q", s)
}

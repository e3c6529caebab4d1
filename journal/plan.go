package journal

import (
	"context"
	"encoding/json"
)

// Plan is a saga definition's plan as the journal keeps it, once per
// fingerprint: what a tool needs to draw and explain a run without the
// program that made it.
type Plan struct {
	Fingerprint string
	Saga        string
	Steps       []PlanStep // in declaration order
}

// PlanStep is one step of a [Plan].
type PlanStep struct {
	Name  string
	Kind  string   // "compensatable", "pivot" or "retriable"
	After []string // the steps it runs after, as declared
}

// Planner is implemented by stores that keep plans (see [Plan]).
type Planner interface {
	// SavePlan records p under p.Fingerprint. Saving a plan whose
	// fingerprint is recorded already changes nothing and is not an
	// error: a fingerprint names one plan.
	SavePlan(ctx context.Context, p Plan) error

	// LoadPlan returns the plan recorded under fingerprint, or fails with
	// ErrNotFound.
	LoadPlan(ctx context.Context, fingerprint string) (Plan, error)
}

// planStepJSON is a step of a plan as stores keep it, in JSON:
// [{"name": ..., "kind": ..., "after": [...]}], in declaration order.
// The field names are the stored format: never change them.
type planStepJSON struct {
	Name  string   `json:"name"`
	Kind  string   `json:"kind"`
	After []string `json:"after"`
}

// EncodePlanSteps returns steps in the JSON form stores keep them in. A
// step without predecessors has "after": [], and no steps is [].
func EncodePlanSteps(steps []PlanStep) ([]byte, error) {
	out := make([]planStepJSON, len(steps))
	for i, s := range steps {
		after := s.After
		if after == nil {
			after = []string{}
		}
		out[i] = planStepJSON{Name: s.Name, Kind: s.Kind, After: after}
	}
	return json.Marshal(out)
}

// DecodePlanSteps reads steps made by [EncodePlanSteps]. Empty lists come
// back nil.
func DecodePlanSteps(data []byte) ([]PlanStep, error) {
	var in []planStepJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, nil
	}
	steps := make([]PlanStep, len(in))
	for i, s := range in {
		steps[i] = PlanStep{Name: s.Name, Kind: s.Kind}
		if len(s.After) > 0 {
			steps[i].After = s.After
		}
	}
	return steps, nil
}

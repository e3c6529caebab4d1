package journal

import "context"

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

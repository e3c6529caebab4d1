package parallel

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/saga"
)

// Option configures [Run].
type Option func(*config)

type config struct {
	limit int
}

// Limit caps the number of steps running at once, actions and
// compensations alike. n <= 0 means no limit, the default.
func Limit(n int) Option {
	return func(c *config) { c.limit = n }
}

// Run executes sg over state, running each step as soon as the steps it
// runs after have succeeded. It returns a report, never nil, and an error,
// nil when every step succeeded; see the package documentation for what
// happens on a failure. S is the saga state type.
func Run[S any](ctx context.Context, sg *saga.Saga[S], state *S, opts ...Option) (*saga.Report, error) {
	if sg == nil {
		panic("parallel: nil Saga")
	}
	var cfg config
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	x, err := sg.Start(ctx, state)
	if err != nil {
		return x.Report(), err
	}
	if !forward(x, sg.Plan(), cfg.limit) && x.Abort() {
		backward(x, sg.Plan(), cfg.limit)
	}
	return x.Finish()
}

// forward runs the steps in dependency order and reports whether all of
// them succeeded. The first failure cancels the others' context (with the
// failure as cause) and stops new starts; forward returns once every
// started step has ended.
func forward[S any](x *saga.Execution[S], plan *builder.Plan, limit int) bool {
	g, gctx := errgroup.WithContext(x.Context())
	w := newWalk(g, gctx, plan.Len(), limit,
		func(i int) error { return x.Act(gctx, i) },
		plan.Dependents)
	w.all(plan.Order())
	return int(w.ok.Load()) == plan.Len()
}

// backward compensates the steps that ran, each after every step that
// depends on it (and ran) has been compensated; independent ones at once.
// A step that ran had all of its dependencies succeed, so they ran too:
// the walk over the steps that ran, in reverse plan order, holds every
// step one of them waits for.
func backward[S any](x *saga.Execution[S], plan *builder.Plan, limit int) {
	order, steps := plan.Order(), x.Report().Steps
	ran := make([]int, 0, len(order))
	for k := len(order) - 1; k >= 0; k-- {
		if i := order[k]; steps[i].Status != saga.StepPending {
			ran = append(ran, i)
		}
	}
	w := newWalk(new(errgroup.Group), context.Background(), plan.Len(), limit,
		func(i int) error {
			x.Compensate(i) // failures are collected by the Execution
			return nil
		},
		plan.Deps)
	w.all(ran)
}

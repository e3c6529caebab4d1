package parallel

import (
	"context"

	"github.com/sagakit/sagakit/internal/graph"
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
	plan := sg.Plan()
	ok := graph.Forward(x.Context(), plan, cfg.limit, func(ctx context.Context, i int) error {
		if ctx.Err() != nil {
			return graph.ErrStop // the caller's context ended: no new step
		}
		return x.Act(ctx, i)
	})
	if !ok && x.Abort() {
		steps := x.Report().Steps
		ran := graph.Ran(plan, func(i int) bool { return steps[i].Status != saga.StepPending })
		graph.Backward(plan, cfg.limit, ran, func(i int) { x.Compensate(i) })
	}
	return x.Finish()
}

package parallel

import (
	"context"
	"sync/atomic"

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
	w := &walk{
		g: g, ctx: gctx, limit: limit,
		run:     func(i int) error { return x.Act(gctx, i) },
		next:    plan.Dependents,
		waiting: make([]atomic.Int32, plan.Len()),
	}
	for i := range w.waiting {
		w.waiting[i].Store(int32(len(plan.Deps(i))))
	}
	for _, i := range plan.Order() {
		if len(plan.Deps(i)) == 0 {
			w.start(i)
		}
	}
	g.Wait()
	return int(w.ok.Load()) == plan.Len()
}

// backward compensates the steps that ran, each after every step that
// depends on it (and ran) has been compensated; independent ones at once.
func backward[S any](x *saga.Execution[S], plan *builder.Plan, limit int) {
	n := plan.Len()
	ran := make([]bool, n)
	for i, s := range x.Report().Steps {
		ran[i] = s.Status != saga.StepPending
	}
	w := &walk{
		g: new(errgroup.Group), ctx: context.Background(), limit: limit,
		run: func(i int) error {
			x.Compensate(i) // failures are collected by the Execution
			return nil
		},
		next: func(i int) []int {
			if !ran[i] {
				return nil
			}
			return plan.Deps(i)
		},
		waiting: make([]atomic.Int32, n),
	}
	for i := range n {
		for _, j := range plan.Dependents(i) {
			if ran[j] {
				w.waiting[i].Add(1)
			}
		}
	}
	order := plan.Order()
	for k := len(order) - 1; k >= 0; k-- {
		if i := order[k]; ran[i] && w.waiting[i].Load() == 0 {
			w.start(i)
		}
	}
	w.g.Wait()
}

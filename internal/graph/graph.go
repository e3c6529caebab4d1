package graph

import (
	"context"
	"errors"

	"golang.org/x/sync/errgroup"

	"github.com/sagakit/sagakit/builder"
)

// ErrStop, returned by a step function given to [Forward], stops the
// walk without cancelling the running steps: no new step starts, the
// running ones end on their own. A durable runner returns it when it
// must stop at the next step boundary (its engine is stopping, or its
// journal cannot be written).
var ErrStop = errors.New("graph: stop at the next step boundary")

// ErrHold, returned by a step function given to [Forward], says that the
// step has not ended (it waits for an event): the steps that run after it
// do not start, and the others go on. A durable runner returns it for a
// step that waits, and carries the run on once the step is woken.
var ErrHold = errors.New("graph: step holds")

// Forward calls act for each step of plan once every step it runs after
// has succeeded (act returned nil), at most limit at a time (<= 0: no
// limit), each on a context derived from ctx. The first error act
// returns cancels that context, with the error as its cause, and no new
// step starts; [ErrStop] only stops new starts, and [ErrHold] only keeps
// the step's dependents from starting. Forward returns once
// every started step has ended, and reports whether every step
// succeeded. act decides what a step is: a step it finds done already
// (restored from a journal) it reports as succeeded at once.
func Forward(ctx context.Context, plan *builder.Plan, limit int, act func(ctx context.Context, i int) error) bool {
	g, gctx := errgroup.WithContext(ctx)
	stop, halt := context.WithCancel(gctx)
	defer halt()
	w := newWalk(g, stop, plan.Len(), limit,
		func(i int) error {
			err := act(gctx, i)
			if errors.Is(err, ErrStop) {
				halt()
			}
			return err
		},
		plan.Dependents)
	w.all(plan.Order())
	return int(w.ok.Load()) == plan.Len()
}

// Ran returns the steps to walk back, given each step's state: those for
// which ran reports true, in reverse plan order. A step that ran had
// every step it runs after succeed, so they ran too: the list holds
// every step one of them waits for.
func Ran(plan *builder.Plan, ran func(i int) bool) []int {
	order := plan.Order()
	out := make([]int, 0, len(order))
	for k := len(order) - 1; k >= 0; k-- {
		if i := order[k]; ran(i) {
			out = append(out, i)
		}
	}
	return out
}

// Backward calls undo for each step of steps (see [Ran]), each after
// undo returned for every step of steps that runs after it, independent
// ones at once, at most limit at a time (<= 0: no limit). undo's failures
// do not stop the walk: every step of steps is undone. Backward returns
// once every call has returned.
func Backward(plan *builder.Plan, limit int, steps []int, undo func(i int)) {
	w := newWalk(new(errgroup.Group), context.Background(), plan.Len(), limit,
		func(i int) error {
			undo(i)
			return nil
		},
		plan.Deps)
	w.all(steps)
}

package saga

import "context"

// Run executes the saga over state: the steps one at a time, in plan order
// (declaration order unless [After] says otherwise). It returns a report,
// never nil, and an error, nil when every step succeeded.
//
// When a step fails, Run compensates every completed step in reverse order
// of completion (the failed one too if it opted in with
// [CompensateIfFailed]; steps without a compensation are skipped), on a
// context detached from ctx's cancellation, and returns an [*Error] that
// unwraps to the step's error and to every compensation failure. When ctx
// ends (or the saga's deadline passes), no new step starts, the running
// step sees its context end, and the completed steps are compensated. A
// panic in an action or compensation is recovered and treated as its
// failure ([*PanicError]).
//
// The context given to steps carries the run's ID (see [RunID]); give Run
// a context made by [WithRunID] to choose that ID.
func (sg *Saga[S]) Run(ctx context.Context, state *S) (*Report, error) {
	x, err := sg.Start(ctx, state)
	if err != nil {
		return x.Report(), err
	}
	fctx := x.Context()
	done := fctx.Done() // nil: fctx never ends, no need to ask before each step
	order := sg.plan.Order()
	last := x.rep.Start
	pos := 0
	for ; pos < len(order); pos++ {
		if done != nil && fctx.Err() != nil {
			break
		}
		if last, err = x.act(fctx, order[pos], last, state); err != nil {
			break
		}
	}
	if pos == len(order) {
		return x.finish(last) // the run ended with its last step
	}
	if x.Abort() {
		// The failed step (if it opted in) first, then the completed
		// ones in reverse; steps that never ran are skipped.
		for k := min(pos, len(order)-1); k >= 0; k-- {
			x.Compensate(order[k])
		}
	}
	return x.Finish()
}

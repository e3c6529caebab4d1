package saga

import (
	"context"
	"time"
)

// Hooks are optional callbacks for every event of a run, in the manner of
// net/http/httptrace.ClientTrace: set the fields you need and leave the
// others nil. A nil field costs nothing.
//
// Hooks run synchronously on the goroutine running the step, so they must
// be quick; with package parallel they are called concurrently and must be
// safe for concurrent use.
//
// # Contexts
//
// RunContext, StepContext and CompensationContext are called when a run,
// an execution of a step's action, or a step's compensation starts, and
// return the context for it, derived from the ctx they are given: a
// tracer starts a span there (see the nested module otelsaga), and the
// values it adds reach the step's action, the calls it makes, the log
// records it writes, and the On… hooks of what started. Each such start
// is followed by exactly one end, whose hook gets a context derived from
// the returned one:
//
//   - RunContext (called for each run that starts, before OnStart): by
//     OnComplete;
//   - StepContext (before the first attempt's OnStepStart): by
//     OnStepSuccess, OnStepFailure or OnStepSuspended;
//   - CompensationContext: by OnStepCompensated or OnCompensationFailure.
//
// The returned context must not end before ctx does. A run refused at
// its start (a nil state) gets OnComplete alone.
type Hooks struct {
	// RunContext returns the context of a run that starts (see Contexts
	// above).
	RunContext func(ctx context.Context, run RunInfo) context.Context
	// StepContext returns the context of an execution of a step's action
	// that starts, for all its attempts (see Contexts above). The step's
	// Attempt is 0.
	StepContext func(ctx context.Context, step StepInfo) context.Context
	// CompensationContext returns the context of a step's compensation
	// that starts, for all its attempts (see Contexts above). The step's
	// Attempt is 0.
	CompensationContext func(ctx context.Context, step StepInfo) context.Context
	// OnStart is called when a run starts.
	OnStart func(ctx context.Context, run RunInfo)
	// OnStepStart is called before each attempt of a step's action.
	OnStepStart func(ctx context.Context, step StepInfo)
	// OnStepSuccess is called when a step's action succeeded.
	OnStepSuccess func(ctx context.Context, step StepInfo, took time.Duration)
	// OnStepFailure is called when a step's action failed for good (after
	// its retries).
	OnStepFailure func(ctx context.Context, step StepInfo, err error)
	// OnStepSuspended is called when a step's action suspended (it
	// returned [ErrSuspended] to a runner that can suspend steps, as a
	// durable one waiting for an event does): the step has not ended, and
	// will run again, as a new execution for these hooks.
	OnStepSuspended func(ctx context.Context, step StepInfo, err error)
	// OnStepRetry is called when a failed attempt of an action will be
	// retried after delay.
	OnStepRetry func(ctx context.Context, step StepInfo, err error, delay time.Duration)
	// OnCompensationStart is called once when the saga starts unwinding
	// because of cause.
	OnCompensationStart func(ctx context.Context, run RunInfo, cause error)
	// OnStepCompensated is called when a step's compensation succeeded.
	OnStepCompensated func(ctx context.Context, step StepInfo)
	// OnCompensationRetry is called when a failed attempt of a
	// compensation will be retried after delay.
	OnCompensationRetry func(ctx context.Context, step StepInfo, err error, delay time.Duration)
	// OnCompensationFailure is called when a step's compensation failed
	// for good.
	OnCompensationFailure func(ctx context.Context, step StepInfo, err error)
	// OnComplete is called when the run ends, whatever its status, with the
	// final report.
	OnComplete func(ctx context.Context, report *Report)
}

// RunInfo identifies a run in hook calls.
type RunInfo struct {
	// Saga is the saga's name.
	Saga string
	// RunID identifies the run.
	RunID string
}

// StepInfo identifies a step of a run in hook calls.
type StepInfo struct {
	RunInfo
	// Step is the step's name.
	Step string
	// Index is the step's position in declaration order.
	Index int
	// Attempt is the 1-based attempt number of the action or compensation.
	Attempt int
}

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
type Hooks struct {
	// OnStart is called when a run starts.
	OnStart func(ctx context.Context, run RunInfo)
	// OnStepStart is called before each attempt of a step's action.
	OnStepStart func(ctx context.Context, step StepInfo)
	// OnStepSuccess is called when a step's action succeeded.
	OnStepSuccess func(ctx context.Context, step StepInfo, took time.Duration)
	// OnStepFailure is called when a step's action failed for good (after
	// its retries).
	OnStepFailure func(ctx context.Context, step StepInfo, err error)
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

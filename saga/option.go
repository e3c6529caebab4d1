package saga

import (
	"fmt"
	"time"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/retry"
)

// StepOption configures one step; pass options to [Builder.Step] and
// [Builder.Add]. Invalid values (a negative timeout, say) are reported by
// Build, never by Run.
type StepOption func(*stepDef)

// Timeout bounds each attempt of the step's action: the action's context
// ends after d. An action that ignores its context is waited for; the
// saga cannot stop Go code that does not listen.
func Timeout(d time.Duration) StepOption {
	return func(s *stepDef) {
		if d <= 0 {
			s.bad("Timeout(%v): must be positive", d)
		}
		s.timeout = d
	}
}

// CompensationTimeout bounds each attempt of the step's compensation,
// overriding the saga's default (see [Builder.WithCompensationTimeout]).
func CompensationTimeout(d time.Duration) StepOption {
	return func(s *stepDef) {
		if d <= 0 {
			s.bad("CompensationTimeout(%v): must be positive", d)
		}
		s.compTimeout = d
	}
}

// Retry retries the step's action under p. A per-step [Timeout] bounds
// each attempt unless p sets its own AttemptTimeout. The report counts
// every attempt.
//
// The step's error, when the retries give up: after more than one
// attempt, the [*retry.Error] (errors.As reaches it; its Reason says why:
// exhausted, unretryable, deadline, canceled), which unwraps to the last
// attempt's error; after a single attempt (the first failed with an
// error marked [retry.Permanent], or the policy allows one attempt), the
// attempt's error itself, since "gave up after 1 attempt" tells nothing
// the report does not. Either way errors.Is reaches the action's own
// error, and StepReport.Attempts says how many attempts were made. The
// same holds for compensations and [CompensationRetry].
func Retry(p retry.Policy) StepOption {
	return func(s *stepDef) { s.retry = &p }
}

// CompensationRetry retries the step's compensation under p instead of the
// saga's compensation policy (see [Builder.WithCompensationRetry]).
func CompensationRetry(p retry.Policy) StepOption {
	return func(s *stepDef) { s.compRetry = &p }
}

// CompensateIfFailed makes the saga compensate this step also when its own
// action failed. Use it for actions that may have taken effect although
// they returned an error: a timeout, a lost reply, a partial write. Such a
// compensation must cope with finding nothing to undo.
func CompensateIfFailed() StepOption {
	return func(s *stepDef) { s.compensateFailed = true }
}

// Pivot marks the step as the saga's point of no return: once it succeeds,
// the saga can no longer be rolled back and every later step must be
// [Retriable]. If the pivot itself fails, the steps before it are
// compensated as usual. A saga has at most one pivot.
func Pivot() StepOption {
	return func(s *stepDef) { s.kind = builder.Pivot }
}

// Retriable marks a step that is retried forward until it succeeds and is
// never compensated (so it takes no compensation). Its retries follow the
// step's [Retry] policy, or [DefaultForwardRetry] without one. If it still
// fails (its policy gave up or the saga's context ended), a saga past its
// pivot ends [StatusFailed]; one before its pivot compensates as usual.
func Retriable() StepOption {
	return func(s *stepDef) { s.kind = builder.Retriable }
}

// Idempotent declares that the step's action can safely run twice: a
// second run with the same idempotency key has no further effect. When a
// process dies in the middle of the step, so that its outcome is unknown,
// a durable runner (package durable) runs an idempotent step again and
// compensates any other.
func Idempotent() StepOption {
	return func(s *stepDef) { s.idempotent = true }
}

// After declares that the step runs after the named steps. The sequential
// runner runs steps in an order that respects every such dependency
// (declaration order when dependencies point backwards); package parallel
// runs steps whose dependencies are done at the same time. Build rejects
// unknown names and cycles.
func After(names ...string) StepOption {
	return func(s *stepDef) { s.after = append(s.after, names...) }
}

func (s *stepDef) bad(format string, args ...any) {
	s.errs = append(s.errs, fmt.Errorf("step %q: "+format, append([]any{s.name}, args...)...))
}

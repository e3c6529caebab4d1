package saga

import (
	"fmt"
	"strconv"
)

// Status is a saga run's status. It prints and marshals as its name
// ("succeeded", "compensation_failed", …).
type Status uint8

// Run statuses. A run is [StatusRunning] until it ends in one of the
// others.
const (
	// StatusRunning: the run has not ended.
	StatusRunning Status = iota
	// StatusSucceeded: every step succeeded.
	StatusSucceeded
	// StatusCompensated: a step failed (or the saga's context ended) and
	// every completed step with a compensation was compensated.
	StatusCompensated
	// StatusCompensationFailed: a step failed and at least one
	// compensation failed too. The run needs a person's attention.
	StatusCompensationFailed
	// StatusFailed: a step failed and the saga did not compensate, either
	// because the error filter (see [Builder.CompensateOn]) said so or
	// because the pivot had already succeeded. The run needs attention.
	StatusFailed
	// StatusPaused: a step failed and the run stopped there without
	// compensating, for a person to fix the cause and resume it (see
	// [Execution.Pause]).
	StatusPaused
)

var statusNames = [...]string{"running", "succeeded", "compensated", "compensation_failed", "failed", "paused"}

// String returns the status's name.
func (s Status) String() string { return name(statusNames[:], uint8(s), "status") }

// MarshalText returns the status's name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a status's name.
func (s *Status) UnmarshalText(b []byte) error {
	return parse(statusNames[:], b, (*uint8)(s), "status")
}

// StepStatus is one step's status in a [Report]. It prints and marshals
// as its name ("pending", "compensated", …).
type StepStatus uint8

// Step statuses.
const (
	// StepPending: the step did not start.
	StepPending StepStatus = iota
	// StepRunning: the step's action is running.
	StepRunning
	// StepSucceeded: the action succeeded and the step was not undone.
	StepSucceeded
	// StepFailed: the action failed (and was not compensated).
	StepFailed
	// StepCompensated: the step was undone by its compensation.
	StepCompensated
	// StepCompensationFailed: the compensation failed; the step's effect
	// may remain.
	StepCompensationFailed
	// StepNotCompensated: the saga unwound but the step has no
	// compensation, so its effect remains by design.
	StepNotCompensated
	// StepCancelled: the step was running when another step failed, and
	// it ended with the cancellation of its context (steps run at once,
	// by package parallel or a durable graph run). It is not a failure of
	// its own; like a failed step, it is compensated only if it opted in
	// with [CompensateIfFailed].
	StepCancelled
)

var stepStatusNames = [...]string{"pending", "running", "succeeded", "failed", "compensated", "compensation_failed", "not_compensated", "cancelled"}

// String returns the step status's name.
func (s StepStatus) String() string { return name(stepStatusNames[:], uint8(s), "step status") }

// MarshalText returns the step status's name.
func (s StepStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a step status's name.
func (s *StepStatus) UnmarshalText(b []byte) error {
	return parse(stepStatusNames[:], b, (*uint8)(s), "step status")
}

func name(names []string, v uint8, what string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return what + "(" + strconv.Itoa(int(v)) + ")"
}

func parse(names []string, b []byte, v *uint8, what string) error {
	for i, n := range names {
		if n == string(b) {
			*v = uint8(i)
			return nil
		}
	}
	return fmt.Errorf("saga: unknown %s %q", what, b)
}

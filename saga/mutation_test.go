package saga_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/saga"
)

// Tests that kill mutants `make mutate` found alive (see RELIABILITY.md).

// A zero duration is as invalid as a negative one for every timeout and
// reserve: "must be positive" means > 0.
func TestZeroDurationsRejected(t *testing.T) {
	ok := do("x", nil)
	for name, b := range map[string]*saga.Builder[trip]{
		"Timeout":                 saga.New[trip]().Step("a", ok, nil, saga.Timeout(0)),
		"CompensationTimeout":     saga.New[trip]().Step("a", ok, ok, saga.CompensationTimeout(0)),
		"WithCompensationReserve": saga.New[trip]().WithCompensationReserve(0).Step("a", ok, nil),
		"WithCompensationTimeout": saga.New[trip]().WithCompensationTimeout(0).Step("a", ok, nil),
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			_, err := b.Compile()
			is.True(err != nil) // zero is refused
			is.True(strings.Contains(err.Error(), name+"(0s): must be positive"))
		})
	}
}

// A DefinitionError names the saga when it has a name, and separates its
// problems with "; ".
func TestDefinitionErrorMessage(t *testing.T) {
	is := is.New(t)
	ok := do("x", nil)
	_, err := saga.New[trip]().Name("trip").Step("", ok, nil).Step("a", nil, nil).Compile()
	is.True(err != nil)
	msg := err.Error()
	is.True(strings.HasPrefix(msg, `saga: "trip": invalid definition: `)) // named
	rest := strings.TrimPrefix(msg, `saga: "trip": invalid definition: `)
	is.True(!strings.HasPrefix(rest, ";")) // no separator before the first problem
	is.Equal(strings.Count(rest, "; "), 1) // one between the two

	_, err = saga.New[trip]().Step("", ok, nil).Compile()
	is.True(err != nil)
	is.True(strings.HasPrefix(err.Error(), "saga: invalid definition: ")) // unnamed: no "": prefix
}

// String never panics, whatever the value: unknown ones are spelled out.
func TestStatusStringOutOfRange(t *testing.T) {
	is := is.New(t)
	for v := range 256 {
		_ = saga.Status(v).String()
		_ = saga.StepStatus(v).String()
	}
	is.True(strings.Contains(saga.Status(200).String(), "200"))
	is.True(strings.Contains(saga.StepStatus(200).String(), "200"))
}

// Unwind without a failed step records its cause: the run ends
// compensated with that error, not succeeded.
func TestExecutionUnwindRecordsCause(t *testing.T) {
	is := is.New(t)
	errOperator := errors.New("operator said compensate")
	var st trip
	x, err := threeSteps().Start(context.Background(), &st)
	is.NoErr(err)
	is.NoErr(x.Act(x.Context(), 0))
	is.True(x.Unwind(errOperator))
	is.NoErr(x.Compensate(0))
	rep, err := x.Finish()
	is.True(errors.Is(err, errOperator))
	is.Equal(rep.Status, saga.StatusCompensated)
	is.Equal(st.events(), []string{"do a", "undo a"})
}

// Pause after the run's context ended, with no failed step, records the
// context's cause, which still matches ctx.Err().
func TestExecutionPauseRecordsContextCause(t *testing.T) {
	is := is.New(t)
	errStop := errors.New("worker stopping")
	ctx, cancel := context.WithCancelCause(context.Background())
	x, err := threeSteps().Start(ctx, &trip{})
	is.NoErr(err)
	is.NoErr(x.Act(x.Context(), 0))
	cancel(errStop)
	x.Pause()
	rep, err := x.Finish()
	is.Equal(rep.Status, saga.StatusPaused)
	is.True(errors.Is(err, errStop))          // the cause
	is.True(errors.Is(err, context.Canceled)) // and still ctx.Err()
}

// A pivot restored as succeeded closes the way back; one restored as
// failed does not.
func TestExecutionRestoredPivot(t *testing.T) {
	ok := do("x", nil)
	build := func() *saga.Saga[trip] {
		return saga.New[trip]().
			Step("a", ok, undo("a", nil)).
			Step("p", ok, nil, saga.Pivot()).
			Step("r", ok, nil, saga.Retriable()).
			Build()
	}
	t.Run("succeeded", func(t *testing.T) {
		is := is.New(t)
		x, err := build().Start(context.Background(), &trip{})
		is.NoErr(err)
		x.Restore(0, saga.StepReport{Status: saga.StepSucceeded})
		x.Restore(1, saga.StepReport{Status: saga.StepSucceeded})
		is.True(!x.Unwind(errBoom)) // past the pivot: no way back
	})
	t.Run("failed", func(t *testing.T) {
		is := is.New(t)
		x, err := build().Start(context.Background(), &trip{})
		is.NoErr(err)
		x.Restore(0, saga.StepReport{Status: saga.StepSucceeded})
		x.Restore(1, saga.StepReport{Status: saga.StepFailed, Err: errBoom})
		is.True(x.Unwind(errBoom)) // the pivot did not take effect
	})
}

// The error filter sees the first step's failure when that step is the
// first one declared (index 0).
func TestAbortFilterSeesFirstStepFailure(t *testing.T) {
	is := is.New(t)
	var seen error
	s := saga.New[trip]().
		CompensateOn(func(err error) bool { seen = err; return errors.Is(err, errBoom) }).
		Step("a", do("a", errBoom), undo("a", nil), saga.CompensateIfFailed()).
		Build()
	x, err := s.Start(context.Background(), &trip{})
	is.NoErr(err)
	is.True(errors.Is(x.Act(x.Context(), 0), errBoom))
	is.True(x.Abort()) // the filter matched the step's failure
	is.True(errors.Is(seen, errBoom))
}

// Halt with no other failure makes its error the run's error; with a step
// failure, the step's error stays first and the halt joins the others.
func TestExecutionHaltErrorPlace(t *testing.T) {
	errJournal := errors.New("journal full")
	t.Run("alone", func(t *testing.T) {
		is := is.New(t)
		x, _ := threeSteps().Start(context.Background(), &trip{})
		_ = x.Act(x.Context(), 0)
		x.Halt(errJournal)
		_, err := x.Finish()
		var se *saga.Error
		is.True(errors.As(err, &se))
		is.Equal(se.Err, errJournal)
		is.Equal(len(se.Others), 0)
	})
	t.Run("after a failure", func(t *testing.T) {
		is := is.New(t)
		x, _ := threeSteps().Start(context.Background(), &trip{})
		_ = x.Act(x.Context(), 0)
		_ = x.Act(x.Context(), 1)
		x.Halt(errJournal)
		_, err := x.Finish()
		var se *saga.Error
		is.True(errors.As(err, &se))
		is.True(errors.Is(se.Err, errBoom))
		is.Equal(len(se.Others), 1)
		is.Equal(se.Others[0], errJournal)
	})
}

package saga_test

import (
	"context"
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

func threeSteps() *saga.Saga[trip] {
	return saga.New[trip]().
		Step("a", do("a", nil), undo("a", nil)).
		Step("b", do("b", errBoom), undo("b", nil)).
		Step("c", do("c", nil), undo("c", nil)).
		Build()
}

// A runner of its own drives the steps; the Execution applies the rules.
func TestExecutionDrivenByHand(t *testing.T) {
	is := is.New(t)
	var st trip
	x, err := threeSteps().Start(context.Background(), &st)
	is.NoErr(err)
	is.NoErr(x.Act(x.Context(), 0))
	is.True(errors.Is(x.Act(x.Context(), 1), errBoom))
	is.True(x.Compensable(0))
	is.True(!x.Compensable(1)) // failed without opting in
	is.True(!x.Compensable(2)) // never ran
	is.True(x.Abort())
	for _, i := range []int{2, 1, 0} {
		is.NoErr(x.Compensate(i))
	}
	rep, err := x.Finish()
	is.True(errors.Is(err, errBoom))
	is.Equal(rep.Status, saga.StatusCompensated)
	is.Equal(st.events(), []string{"do a", "do b", "undo a"})
}

func TestExecutionPause(t *testing.T) {
	is := is.New(t)
	var st trip
	x, _ := threeSteps().Start(context.Background(), &st)
	_ = x.Act(x.Context(), 0)
	_ = x.Act(x.Context(), 1)
	x.Pause()
	rep, err := x.Finish()
	var se *saga.Error
	is.True(errors.As(err, &se))
	is.Equal(se.Step, "b")
	is.Equal(rep.Status, saga.StatusPaused)
	is.Equal(st.events(), []string{"do a", "do b"}) // nothing compensated
}

func TestExecutionHalt(t *testing.T) {
	is := is.New(t)
	errJournal := errors.New("journal full")
	x, _ := threeSteps().Start(context.Background(), &trip{})
	_ = x.Act(x.Context(), 0)
	x.Halt(errJournal)
	rep, err := x.Finish()
	is.True(errors.Is(err, errJournal))
	is.Equal(rep.Status, saga.StatusFailed)
}

// Restored steps count as completed: not run again, compensated on unwind.
func TestExecutionRestore(t *testing.T) {
	is := is.New(t)
	var st trip
	x, _ := threeSteps().Start(context.Background(), &st)
	x.Restore(0, saga.StepReport{Status: saga.StepSucceeded, Attempts: 2})
	is.True(errors.Is(x.Act(x.Context(), 1), errBoom))
	is.True(x.Abort())
	is.NoErr(x.Compensate(0))
	rep, _ := x.Finish()
	is.Equal(st.events(), []string{"do b", "undo a"})
	is.Equal(rep.Steps[0].Name, "a")
	is.Equal(rep.Steps[0].Attempts, 2)
	is.Equal(rep.Steps[0].Status, saga.StepCompensated)
}

func TestIdempotentOption(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().Step("a", do("a", nil), nil, saga.Idempotent()).Step("b", do("b", nil), nil).Build()
	is.True(sg.Idempotent(0))
	is.True(!sg.Idempotent(1))
}

// A fenced run's steps and compensations see the fence end, with its
// cause, although compensations ignore the caller's cancellation.
func TestExecutionFence(t *testing.T) {
	is := is.New(t)
	errFence := errors.New("lease lost")
	var stepCause, compCause error
	compStarted, stepStarted := make(chan struct{}), make(chan struct{})
	sg := saga.New[trip]().
		Step("a", do("a", nil), func(ctx context.Context, _ *trip) error {
			close(compStarted)
			<-ctx.Done()
			compCause = context.Cause(ctx)
			return ctx.Err()
		}, saga.CompensationRetry(retry.Policy{})).
		Step("b", do("b", errBoom), nil).
		Step("c", func(ctx context.Context, _ *trip) error {
			close(stepStarted)
			<-ctx.Done()
			stepCause = context.Cause(ctx)
			return ctx.Err()
		}, nil).
		Build()
	caller, cancelCaller := context.WithCancel(context.Background())
	defer cancelCaller()

	// Forward: the running step sees the fence end.
	fence, endFence := context.WithCancelCause(context.Background())
	x, _ := sg.Start(caller, &trip{})
	x.Fence(fence)
	is.NoErr(x.Act(x.Context(), 0))
	go func() {
		<-stepStarted
		endFence(errFence)
	}()
	is.True(x.Act(x.Context(), 2) != nil)
	is.Equal(stepCause, errFence)
	_, _ = x.Finish()

	// Backward: a compensation ignores the caller, not the fence.
	fence, endFence = context.WithCancelCause(context.Background())
	x, _ = sg.Start(caller, &trip{})
	x.Fence(fence)
	is.NoErr(x.Act(x.Context(), 0))
	is.True(x.Act(x.Context(), 1) != nil)
	is.True(x.Abort())
	cancelCaller()
	go func() {
		<-compStarted
		endFence(errFence)
	}()
	is.True(x.Compensate(0) != nil)
	is.Equal(compCause, errFence)
	rep, _ := x.Finish()
	is.Equal(rep.Status, saga.StatusCompensationFailed)
}

// Halted and paused, a run reports paused: it waits for a person.
func TestExecutionHaltAndPause(t *testing.T) {
	is := is.New(t)
	errEncode := errors.New("cannot encode")
	x, _ := threeSteps().Start(context.Background(), &trip{})
	_ = x.Act(x.Context(), 0)
	x.Halt(errEncode)
	x.Pause()
	rep, err := x.Finish()
	is.True(errors.Is(err, errEncode))
	is.Equal(rep.Status, saga.StatusPaused)
}

// lazyFence is a fence that learns it has ended only when asked, as a
// durable runner's lease checked by the process's own clock: its Err ends
// it once lapsed is set. Until asked, contexts derived from it run on.
type lazyFence struct {
	context.Context
	end    context.CancelCauseFunc
	lapsed bool
}

func newLazyFence() *lazyFence {
	ctx, end := context.WithCancelCause(context.Background())
	return &lazyFence{Context: ctx, end: end}
}

func (f *lazyFence) Err() error {
	if f.lapsed {
		f.end(errLapsed)
	}
	return f.Context.Err()
}

var errLapsed = errors.New("lease lapsed")

// A fenced run starts no attempt of a step or a compensation once the
// fence has ended, even when nothing has told the attempt's context yet
// (a process thawed after its lease lapsed, between two attempts).
func TestFenceAskedBeforeEachAttempt(t *testing.T) {
	twice := retry.Policy{MaxAttempts: 3, InitialInterval: -1}
	var fence *lazyFence
	var acts, undos int
	lapse := func() error { fence.lapsed = true; return errBoom }
	sg := saga.New[trip]().
		Step("a", do("a", nil), func(context.Context, *trip) error { undos++; return lapse() },
			saga.CompensationRetry(twice)).
		Step("b", func(context.Context, *trip) error { acts++; return errBoom }, nil, saga.Retry(twice)).
		Step("c", func(context.Context, *trip) error { acts++; return lapse() }, nil, saga.Retry(twice)).
		Build()
	is := is.New(t)

	fence, acts = newLazyFence(), 0
	x, _ := sg.Start(context.Background(), &trip{})
	x.Fence(fence)
	is.NoErr(x.Act(x.Context(), 0))
	is.True(x.Act(x.Context(), 1) != nil)
	is.Equal(acts, 3) // the fence holds: every attempt
	is.True(x.Abort())
	is.True(x.Compensate(0) != nil)
	is.Equal(undos, 1) // no second attempt once the fence ended
	rep, _ := x.Finish()
	is.Equal(rep.Steps[0].Compensation.Attempts, 1)

	fence, acts = newLazyFence(), 0
	x, _ = sg.Start(context.Background(), &trip{})
	x.Fence(fence)
	is.True(x.Act(x.Context(), 2) != nil)
	is.Equal(acts, 1)
	rep, _ = x.Finish()
	is.Equal(rep.Steps[2].Attempts, 1)

	// The step's context does not ask the fence (it derives from the
	// caller's with a cancel of its own, as a parallel runner's does):
	// the attempt does.
	fence, acts = newLazyFence(), 0
	x, _ = sg.Start(context.Background(), &trip{})
	x.Fence(fence)
	ctx, cancel := context.WithCancel(x.Context())
	defer cancel()
	err := x.Act(ctx, 2)
	is.True(errors.Is(err, errLapsed)) // the second attempt is refused with the fence's cause
	is.Equal(acts, 1)
	_, _ = x.Finish()
}

// A step of a fenced run that checks its context before it acts sees the
// fence's end at once, before the fence's AfterFunc has told its context;
// and once the fence has ended, a step without retries is not called.
func TestFencedStepContextAsksTheFence(t *testing.T) {
	is := is.New(t)
	fence := newLazyFence()
	var seen error
	calls := 0
	sg := saga.New[trip]().
		Step("a", func(ctx context.Context, _ *trip) error {
			fence.lapsed = true // the lease lapses while the step runs
			seen = ctx.Err()
			return nil
		}, nil).
		Step("b", func(context.Context, *trip) error { calls++; return nil }, nil).
		Build()
	x, _ := sg.Start(context.Background(), &trip{})
	x.Fence(fence)
	is.NoErr(x.Act(x.Context(), 0))
	is.True(seen != nil) // asked, the context reports the fence's end
	err := x.Act(x.Context(), 1)
	is.True(errors.Is(err, errLapsed))
	is.Equal(calls, 0)
	_, _ = x.Finish()
}

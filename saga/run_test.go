package saga_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

func TestRunSucceedsInOrder(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().Name("book").
		Step("debit", do("debit", nil), undo("debit", nil)).
		Step("flight", do("flight", nil), undo("flight", nil)).
		Step("hotel", do("hotel", nil), undo("hotel", nil)).
		Build()
	var st trip
	rep, err := sg.Run(context.Background(), &st)
	is.NoErr(err)
	is.Equal(rep.Status, saga.StatusSucceeded)
	if diff := cmp.Diff([]string{"do debit", "do flight", "do hotel"}, st.events()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	for _, s := range rep.Steps {
		is.Equal(s.Status, saga.StepSucceeded)
		is.Equal(s.Attempts, 1)
		is.True(s.Compensation == nil)
	}
}

// Rule 1: completed steps are compensated in reverse order of completion.
// Rule 2: the failed step itself is not compensated.
func TestFailureCompensatesCompletedStepsInReverse(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().
		Step("debit", do("debit", nil), undo("debit", nil)).
		Step("flight", do("flight", nil), undo("flight", nil)).
		Step("hotel", do("hotel", errBoom), undo("hotel", nil)).
		Step("email", do("email", nil), undo("email", nil)).
		Build()
	var st trip
	rep, err := sg.Run(context.Background(), &st)
	is.True(errors.Is(err, errBoom)) // the step's own error
	var se *saga.Error
	is.True(errors.As(err, &se))
	is.Equal(se.Step, "hotel")
	is.Equal(se.Status, saga.StatusCompensated)
	is.True(!errors.Is(err, saga.ErrCompensationFailed))
	is.Equal(rep.Status, saga.StatusCompensated)
	want := []string{"do debit", "do flight", "do hotel", "undo flight", "undo debit"}
	if diff := cmp.Diff(want, st.events()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	got := map[string]saga.StepStatus{}
	for _, s := range rep.Steps {
		got[s.Name] = s.Status
	}
	is.Equal(got, map[string]saga.StepStatus{
		"debit": saga.StepCompensated, "flight": saga.StepCompensated,
		"hotel": saga.StepFailed, "email": saga.StepPending,
	})
}

// Rule 2: a step that opts in is compensated although it failed, first.
func TestFailedStepCompensatedWhenOptedIn(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().
		Step("a", do("a", nil), undo("a", nil)).
		Step("b", do("b", errBoom), undo("b", nil), saga.CompensateIfFailed()).
		Build()
	var st trip
	rep, err := sg.Run(context.Background(), &st)
	is.True(errors.Is(err, errBoom))
	is.Equal(st.events(), []string{"do a", "do b", "undo b", "undo a"})
	b, _ := rep.Step("b")
	is.Equal(b.Status, saga.StepCompensated)
	is.True(errors.Is(b.Err, errBoom)) // the action's error stays in the report
}

// Rule 3: a step without compensation is skipped when unwinding.
func TestNilCompensationSkipped(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().
		Step("a", do("a", nil), undo("a", nil)).
		Step("log", do("log", nil), nil).
		Step("c", do("c", errBoom), undo("c", nil)).
		Build()
	var st trip
	rep, err := sg.Run(context.Background(), &st)
	is.True(errors.Is(err, errBoom))
	is.Equal(st.events(), []string{"do a", "do log", "do c", "undo a"})
	l, _ := rep.Step("log")
	is.Equal(l.Status, saga.StepNotCompensated)
	is.True(l.Compensation == nil)
	is.Equal(rep.Status, saga.StatusCompensated)
}

func TestFirstStepFailureCompensatesNothing(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().
		Step("a", do("a", errBoom), undo("a", nil)).
		Step("b", do("b", nil), undo("b", nil)).
		Build()
	var st trip
	rep, err := sg.Run(context.Background(), &st)
	is.True(errors.Is(err, errBoom))
	is.Equal(st.events(), []string{"do a"})
	is.Equal(rep.Status, saga.StatusCompensated)
}

// Steps talk through the state: what an action writes, later steps and
// compensations read.
func TestStateFlowsBetweenSteps(t *testing.T) {
	is := is.New(t)
	type order struct {
		PaymentID string
		Refunded  string
	}
	sg := saga.New[order]().
		Step("charge", func(_ context.Context, o *order) error { o.PaymentID = "pay_123"; return nil },
			func(_ context.Context, o *order) error { o.Refunded = o.PaymentID; return nil }).
		Step("ship", func(context.Context, *order) error { return errBoom }, nil).
		Build()
	var o order
	_, err := sg.Run(context.Background(), &o)
	is.True(errors.Is(err, errBoom))
	is.Equal(o.Refunded, "pay_123") // the compensation read what the action stored
}

// talepy's steps as objects.
type flight struct{ booked *[]string }

func (f flight) Execute(_ context.Context, t *trip) error {
	t.add("do flight")
	*f.booked = append(*f.booked, "flight")
	return nil
}

func (f flight) Compensate(_ context.Context, t *trip) error {
	t.add("undo flight")
	*f.booked = (*f.booked)[:len(*f.booked)-1]
	return nil
}

func TestInterfaceSteps(t *testing.T) {
	is := is.New(t)
	var booked []string
	sg := saga.New[trip]().
		Add("flight", flight{&booked}).
		Step("hotel", do("hotel", errBoom), nil).
		Build()
	var st trip
	_, err := sg.Run(context.Background(), &st)
	is.True(errors.Is(err, errBoom))
	is.Equal(st.events(), []string{"do flight", "do hotel", "undo flight"})
	is.Equal(len(booked), 0)
}

func TestNilStateIsAnError(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().Step("a", do("a", nil), nil).Build()
	rep, err := sg.Run(context.Background(), nil)
	is.True(errors.Is(err, saga.ErrNilState))
	is.True(rep != nil)
	is.Equal(rep.Status, saga.StatusFailed)
	is.Equal(rep.Steps[0].Status, saga.StepPending)
}

func TestEmptySagaSucceeds(t *testing.T) {
	is := is.New(t)
	rep, err := saga.New[trip]().Build().Run(context.Background(), &trip{})
	is.NoErr(err)
	is.Equal(rep.Status, saga.StatusSucceeded)
	is.Equal(len(rep.Steps), 0)
}

func TestRunIDInContext(t *testing.T) {
	is := is.New(t)
	var seen string
	sg := saga.New[trip]().
		Step("a", func(ctx context.Context, _ *trip) error { seen = saga.RunID(ctx); return nil }, nil).
		Build()
	rep, err := sg.Run(context.Background(), &trip{})
	is.NoErr(err)
	is.Equal(seen, rep.RunID)
	is.Equal(len(rep.RunID), 36) // a UUID

	ctx := saga.WithRunID(context.Background(), "order-42")
	rep, err = sg.Run(ctx, &trip{})
	is.NoErr(err)
	is.Equal(rep.RunID, "order-42")
	is.Equal(seen, "order-42")
	is.Equal(saga.RunID(context.Background()), "")
}

// A saga run from inside a step gets its own run ID.
func TestNestedRunGetsOwnID(t *testing.T) {
	is := is.New(t)
	inner := saga.New[trip]().Step("x", do("x", nil), nil).Build()
	var innerID string
	outer := saga.New[trip]().Step("nest", func(ctx context.Context, t *trip) error {
		rep, err := inner.Run(ctx, t)
		innerID = rep.RunID
		return err
	}, nil).Build()
	rep, err := outer.Run(saga.WithRunID(context.Background(), "outer"), &trip{})
	is.NoErr(err)
	is.Equal(rep.RunID, "outer")
	is.True(innerID != "outer")
	is.Equal(len(innerID), 36)
}

func TestRetryMakesAttemptsThenCompensates(t *testing.T) {
	is := is.New(t)
	calls := 0
	sg := saga.New[trip]().
		Step("a", do("a", nil), undo("a", nil)).
		Step("b", func(context.Context, *trip) error { calls++; return errBoom }, nil,
			saga.Retry(retry.Policy{MaxAttempts: 3, InitialInterval: -1})).
		Build()
	var st trip
	rep, err := sg.Run(context.Background(), &st)
	is.True(errors.Is(err, errBoom))
	is.Equal(calls, 3)
	b, _ := rep.Step("b")
	is.Equal(b.Attempts, 3)
	is.Equal(st.events(), []string{"do a", "undo a"})
}

func TestRetrySucceedsOnThirdAttempt(t *testing.T) {
	is := is.New(t)
	var attempts []int
	sg := saga.New[trip]().
		Step("a", func(ctx context.Context, _ *trip) error {
			attempts = append(attempts, retry.Attempt(ctx))
			if len(attempts) < 3 {
				return errBoom
			}
			return nil
		}, nil, saga.Retry(retry.Policy{MaxAttempts: 5, InitialInterval: -1})).
		Build()
	rep, err := sg.Run(context.Background(), &trip{})
	is.NoErr(err)
	is.Equal(attempts, []int{1, 2, 3}) // the attempt number is in the context
	is.Equal(rep.Steps[0].Attempts, 3)
}

func TestPermanentErrorStopsRetries(t *testing.T) {
	is := is.New(t)
	calls := 0
	sg := saga.New[trip]().
		Step("a", func(context.Context, *trip) error { calls++; return retry.Permanent(errBoom) }, nil,
			saga.Retry(retry.Policy{MaxAttempts: 5, InitialInterval: -1})).
		Build()
	_, err := sg.Run(context.Background(), &trip{})
	is.True(errors.Is(err, errBoom))
	is.Equal(calls, 1)
}

func TestChosenRunID(t *testing.T) {
	is := is.New(t)
	ctx := saga.WithRunID(context.Background(), "order-42")
	is.Equal(saga.ChosenRunID(ctx), "order-42")
	is.Equal(saga.ChosenRunID(context.Background()), "")
	sg := saga.New[trip]().Step("a", func(ctx context.Context, _ *trip) error {
		is.Equal(saga.ChosenRunID(ctx), "") // inside the run: not the next run's
		is.Equal(saga.RunID(ctx), "order-42")
		return nil
	}, nil).Build()
	_, err := sg.Run(ctx, &trip{})
	is.NoErr(err)
}

// A Saga that Build did not make panics with a message of this package,
// not a nil dereference.
func TestZeroSagaPanics(t *testing.T) {
	is := is.New(t)
	for _, sg := range []*saga.Saga[int]{nil, new(saga.Saga[int])} {
		func() {
			defer func() {
				v := recover()
				s, ok := v.(string)
				is.True(ok)
				is.True(strings.HasPrefix(s, "saga: "))
			}()
			x := 1
			_, _ = sg.Run(context.Background(), &x)
		}()
	}
}

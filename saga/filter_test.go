package saga_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/saga"
)

// Rule 8 (pysagas' run(exceptions=...)): only chosen errors compensate.
func TestErrorFilter(t *testing.T) {
	errDeclined := errors.New("card declined")
	onlyDeclined := func(err error) bool { return errors.Is(err, errDeclined) }
	build := func(fail error) *saga.Saga[trip] {
		return saga.New[trip]().
			CompensateOn(onlyDeclined).
			Step("reserve", do("reserve", nil), undo("reserve", nil)).
			Step("charge", do("charge", fail), undo("charge", nil)).
			Build()
	}

	t.Run("listed error compensates", func(t *testing.T) {
		is := is.New(t)
		var st trip
		rep, err := build(errDeclined).Run(context.Background(), &st)
		is.True(errors.Is(err, errDeclined))
		is.Equal(rep.Status, saga.StatusCompensated)
		is.Equal(st.events(), []string{"do reserve", "do charge", "undo reserve"})
	})

	t.Run("other error returns at once, not compensated", func(t *testing.T) {
		is := is.New(t)
		var st trip
		rep, err := build(errBoom).Run(context.Background(), &st)
		is.True(errors.Is(err, errBoom))
		var se *saga.Error
		is.True(errors.As(err, &se))
		is.Equal(se.Status, saga.StatusFailed)
		is.Equal(rep.Status, saga.StatusFailed)
		is.Equal(st.events(), []string{"do reserve", "do charge"})
		r, _ := rep.Step("reserve")
		is.Equal(r.Status, saga.StepSucceeded) // left as it is
	})
}

// The filter can select error kinds, like pysagas' exception classes.
func TestErrorFilterByType(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().
		CompensateOn(func(err error) bool {
			var pe *fs.PathError
			return errors.As(err, &pe)
		}).
		Step("a", do("a", nil), undo("a", nil)).
		Step("b", do("b", &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}), nil).
		Build()
	var st trip
	rep, err := sg.Run(context.Background(), &st)
	is.True(errors.Is(err, fs.ErrNotExist))
	is.Equal(rep.Status, saga.StatusCompensated)
}

// Cancellation always compensates, whatever the filter says.
func TestErrorFilterIgnoredOnCancel(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	sg := saga.New[trip]().
		CompensateOn(func(error) bool { return false }).
		Step("a", do("a", nil), undo("a", nil)).
		Step("b", func(ctx context.Context, _ *trip) error { cancel(); return ctx.Err() }, nil).
		Build()
	var st trip
	rep, err := sg.Run(ctx, &st)
	is.True(errors.Is(err, context.Canceled))
	is.Equal(rep.Status, saga.StatusCompensated)
	is.Equal(st.events(), []string{"do a", "undo a"})
}

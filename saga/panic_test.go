package saga_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/saga"
)

// Rule 6: a panic in an action is recovered, compensation proceeds, and
// the error carries the value and the stack.
func TestPanicInActionCompensates(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().
		Step("a", do("a", nil), undo("a", nil)).
		Step("b", func(context.Context, *trip) error { panic("card reader on fire") }, undo("b", nil)).
		Build()
	var st trip
	rep, err := sg.Run(context.Background(), &st)
	var pe *saga.PanicError
	is.True(errors.As(err, &pe))
	is.Equal(pe.Value, "card reader on fire")
	is.True(strings.Contains(string(pe.Stack), "panic_test.go")) // the stack of the panic
	var se *saga.Error
	is.True(errors.As(err, &se))
	is.Equal(se.Step, "b")
	is.Equal(st.events(), []string{"do a", "undo a"})
	is.Equal(rep.Status, saga.StatusCompensated)
}

func TestPanicWithErrorUnwraps(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().
		Step("a", func(context.Context, *trip) error { panic(errBoom) }, nil).
		Build()
	_, err := sg.Run(context.Background(), &trip{})
	is.True(errors.Is(err, errBoom))
}

// Rule 6: a panic in a compensation is a failed compensation; the others
// still run.
func TestPanicInCompensation(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().
		WithCompensationRetry(once).
		Step("a", do("a", nil), undo("a", nil)).
		Step("b", do("b", nil), func(context.Context, *trip) error { panic("undo exploded") }).
		Step("c", do("c", errBoom), nil).
		Build()
	var st trip
	rep, err := sg.Run(context.Background(), &st)
	is.True(errors.Is(err, errBoom))
	is.True(errors.Is(err, saga.ErrCompensationFailed))
	var pe *saga.PanicError
	is.True(errors.As(err, &pe))
	is.Equal(pe.Value, "undo exploded")
	is.Equal(st.events(), []string{"do a", "do b", "do c", "undo a"})
	is.Equal(rep.Status, saga.StatusCompensationFailed)
}

func TestPanicNil(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().Step("a", func(context.Context, *trip) error { panic(nil) }, nil).Build()
	_, err := sg.Run(context.Background(), &trip{})
	var pe *saga.PanicError
	is.True(errors.As(err, &pe)) // panic(nil) is a failure too
}

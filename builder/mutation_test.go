package builder_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/builder"
)

// Tests that kill mutants `make mutate` found alive (see RELIABILITY.md).

// The cycle reported is the real one even when the first step is not on
// it and a step on it also waits for a step off it.
func TestCycleAwayFromFirstStep(t *testing.T) {
	is := is.New(t)
	_, err := builder.Compile([]builder.Decl{
		{Name: "x"},
		{Name: "a", After: []string{"x", "b"}},
		{Name: "b", After: []string{"a"}},
	})
	is.True(errors.Is(err, builder.ErrCycle))
	is.True(strings.Contains(err.Error(), `dependency cycle: "a" -> "b" -> "a"`))
}

// A pivot declared first is still a barrier for the steps after it.
func TestPivotFirstIsABarrier(t *testing.T) {
	is := is.New(t)
	p, err := builder.Compile([]builder.Decl{
		{Name: "charge", Kind: builder.Pivot},
		{Name: "ship", Kind: builder.Retriable}, {Name: "mail", Kind: builder.Retriable},
	})
	is.NoErr(err)
	is.Equal(p.Pivot(), 0)
	is.Equal(names(p, p.Dependents(0)), []string{"ship", "mail"})
}

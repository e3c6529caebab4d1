package saga_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/saga"
)

func panicMessage(f func()) (msg string) {
	defer func() {
		if v := recover(); v != nil {
			msg, _ = v.(string)
			if msg == "" {
				msg = "non-string panic"
			}
		}
	}()
	f()
	return ""
}

func TestBuildPanicsOnDefinitionErrors(t *testing.T) {
	ok := do("x", nil)
	for name, tc := range map[string]struct {
		build func() *saga.Builder[trip]
		want  string
	}{
		"empty name": {func() *saga.Builder[trip] { return saga.New[trip]().Step("", ok, nil) }, "empty step name"},
		"duplicate name": {func() *saga.Builder[trip] {
			return saga.New[trip]().Step("a", ok, nil).Step("a", ok, nil)
		}, `step "a" (#2): duplicate step name`},
		"nil action":    {func() *saga.Builder[trip] { return saga.New[trip]().Step("a", nil, nil) }, `step "a": nil action`},
		"nil Step":      {func() *saga.Builder[trip] { return saga.New[trip]().Add("a", nil) }, `step "a": nil action`},
		"unknown after": {func() *saga.Builder[trip] { return saga.New[trip]().Step("a", ok, nil, saga.After("zz")) }, `unknown dependency: "zz"`},
		"negative timeout": {func() *saga.Builder[trip] {
			return saga.New[trip]().Step("a", ok, nil, saga.Timeout(-1))
		}, `step "a": Timeout(-1ns): must be positive`},
		"cycle": {func() *saga.Builder[trip] {
			return saga.New[trip]().Step("a", ok, nil, saga.After("b")).Step("b", ok, nil, saga.After("a"))
		}, "dependency cycle"},
		"retriable with compensation": {func() *saga.Builder[trip] {
			return saga.New[trip]().Step("a", ok, ok, saga.Retriable())
		}, "never compensated"},
		"non-retriable after pivot": {func() *saga.Builder[trip] {
			return saga.New[trip]().Step("p", ok, nil, saga.Pivot()).Step("a", ok, nil)
		}, "must be retriable"},
		"two pivots": {func() *saga.Builder[trip] {
			return saga.New[trip]().Step("p", ok, nil, saga.Pivot()).Step("q", ok, nil, saga.Pivot())
		}, "at most one pivot"},
		"nil option": {func() *saga.Builder[trip] { return saga.New[trip]().Step("a", ok, nil, nil) }, "nil option"},
		"bad saga timeout": {func() *saga.Builder[trip] {
			return saga.New[trip]().WithTimeout(0).Step("a", ok, nil)
		}, "WithTimeout(0s): must be positive"},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			msg := panicMessage(func() { tc.build().Build() })
			is.True(strings.HasPrefix(msg, "saga: ")) // panics with the package prefix
			is.True(strings.Contains(msg, tc.want))   // and says what is wrong
			_, err := tc.build().Compile()
			is.True(err != nil)
			is.Equal(err.Error(), msg) // Compile returns what Build panics with
		})
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	is := is.New(t)
	_, err := saga.New[trip]().Name("bad").
		Step("", do("x", nil), nil).
		Step("a", nil, nil).
		Step("a", do("x", nil), nil, saga.After("ghost")).
		Compile()
	var de *saga.DefinitionError
	is.True(errors.As(err, &de))
	is.Equal(de.Saga, "bad")
	is.Equal(len(de.Problems), 4)
	is.True(errors.Is(err, builder.ErrEmptyName))
	is.True(errors.Is(err, builder.ErrDuplicateName))
	is.True(errors.Is(err, builder.ErrUnknownDependency))
	var be *builder.Error
	is.True(errors.As(err, &be))
	is.Equal(be.Step, "")
}

// Misuse is caught at Build, never at Run: a saga that builds runs.
func TestBuilderReuse(t *testing.T) {
	is := is.New(t)
	b := saga.New[trip]().Step("a", do("a", nil), nil)
	first := b.Build()
	second := b.Step("b", do("b", nil), nil).Build()
	var s1, s2 trip
	_, err := first.Run(context.Background(), &s1)
	is.NoErr(err)
	_, err = second.Run(context.Background(), &s2)
	is.NoErr(err)
	is.Equal(s1.events(), []string{"do a"})
	is.Equal(s2.events(), []string{"do a", "do b"})
}

func TestAfterOrdersSequentialRun(t *testing.T) {
	is := is.New(t)
	sg := saga.New[trip]().
		Step("email", do("email", nil), nil, saga.After("book")).
		Step("debit", do("debit", nil), nil).
		Step("book", do("book", nil), nil, saga.After("debit")).
		Build()
	var st trip
	_, err := sg.Run(context.Background(), &st)
	is.NoErr(err)
	is.Equal(st.events(), []string{"do debit", "do book", "do email"})
	is.Equal(sg.Plan().Len(), 3)
	is.Equal(sg.Name(), "")
}

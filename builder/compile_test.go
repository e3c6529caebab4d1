package builder_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/builder"
)

func names(p *builder.Plan, idx []int) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = p.Decl(i).Name
	}
	return out
}

func TestCompileChainKeepsDeclarationOrder(t *testing.T) {
	is := is.New(t)
	p, err := builder.Compile([]builder.Decl{{Name: "a"}, {Name: "b"}, {Name: "c"}})
	is.NoErr(err)
	is.Equal(p.Len(), 3)
	is.Equal(names(p, p.Order()), []string{"a", "b", "c"})
	is.Equal(p.Pivot(), -1)
	i, ok := p.Index("b")
	is.True(ok)
	is.Equal(i, 1)
	_, ok = p.Index("zz")
	is.True(!ok)
}

func TestCompileTopologicalOrderIsStable(t *testing.T) {
	is := is.New(t)
	p, err := builder.Compile([]builder.Decl{
		{Name: "email", After: []string{"flight", "hotel"}},
		{Name: "hotel", After: []string{"debit"}},
		{Name: "flight", After: []string{"debit"}},
		{Name: "debit"},
		{Name: "audit"},
	})
	is.NoErr(err)
	if diff := cmp.Diff([]string{"debit", "hotel", "flight", "email", "audit"}, names(p, p.Order())); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
	debit, _ := p.Index("debit")
	is.Equal(names(p, p.Dependents(debit)), []string{"hotel", "flight"})
	email, _ := p.Index("email")
	is.Equal(names(p, p.Deps(email)), []string{"hotel", "flight"})
}

func TestCompileErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		decls []builder.Decl
		want  error
		text  string
	}{
		"empty":     {[]builder.Decl{{Name: ""}}, builder.ErrEmptyName, "step #1: empty step name"},
		"duplicate": {[]builder.Decl{{Name: "a"}, {Name: "a"}}, builder.ErrDuplicateName, `step "a" (#2): duplicate step name: first declared as step #1`},
		"unknown":   {[]builder.Decl{{Name: "a", After: []string{"x"}}}, builder.ErrUnknownDependency, `step "a" (#1): unknown dependency: "x"`},
		"self":      {[]builder.Decl{{Name: "a", After: []string{"a"}}}, builder.ErrSelfDependency, `step "a" (#1): step depends on itself`},
		"cycle": {[]builder.Decl{{Name: "a", After: []string{"c"}}, {Name: "b", After: []string{"a"}}, {Name: "c", After: []string{"b"}}},
			builder.ErrCycle, `dependency cycle: "a" -> "c" -> "b" -> "a"`},
		"two pivots":       {[]builder.Decl{{Name: "p", Kind: builder.Pivot}, {Name: "q", Kind: builder.Pivot}}, builder.ErrKind, "at most one pivot"},
		"after pivot":      {[]builder.Decl{{Name: "p", Kind: builder.Pivot}, {Name: "a"}}, builder.ErrKind, "must be retriable"},
		"unknown kind":     {[]builder.Decl{{Name: "a", Kind: 9}}, builder.ErrKind, "kind(9)"},
		"before the pivot": {[]builder.Decl{{Name: "a", After: []string{"r"}}, {Name: "p", Kind: builder.Pivot}, {Name: "r", Kind: builder.Retriable}}, builder.ErrCycle, "dependency cycle"},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			p, err := builder.Compile(tc.decls)
			is.True(p == nil)
			is.True(errors.Is(err, tc.want))
			is.True(strings.Contains(err.Error(), tc.text)) // names the step and the problem
		})
	}
}

// The pivot is a barrier: it runs after every step declared before it and
// every step declared after it runs after it.
func TestPivotIsABarrier(t *testing.T) {
	is := is.New(t)
	p, err := builder.Compile([]builder.Decl{
		{Name: "a"}, {Name: "b"},
		{Name: "charge", Kind: builder.Pivot},
		{Name: "ship", Kind: builder.Retriable}, {Name: "mail", Kind: builder.Retriable},
	})
	is.NoErr(err)
	is.Equal(p.Pivot(), 2)
	is.Equal(names(p, p.Deps(2)), []string{"a", "b"})
	is.Equal(names(p, p.Dependents(2)), []string{"ship", "mail"})
}

func TestFingerprint(t *testing.T) {
	is := is.New(t)
	fp := func(decls ...builder.Decl) string {
		p, err := builder.Compile(decls)
		is.NoErr(err)
		return p.Fingerprint()
	}
	base := fp(builder.Decl{Name: "a"}, builder.Decl{Name: "b", After: []string{"a"}})
	is.Equal(len(base), 64)
	is.Equal(base, fp(builder.Decl{Name: "a"}, builder.Decl{Name: "b", After: []string{"a", "a"}}))                      // repeats do not count
	is.True(base != fp(builder.Decl{Name: "a"}, builder.Decl{Name: "b"}))                                                // dependencies count
	is.True(base != fp(builder.Decl{Name: "b", After: []string{"a"}}, builder.Decl{Name: "a"}))                          // order counts
	is.True(base != fp(builder.Decl{Name: "a"}, builder.Decl{Name: "c", After: []string{"a"}}))                          // names count
	is.True(base != fp(builder.Decl{Name: "a"}, builder.Decl{Name: "b", After: []string{"a"}, Kind: builder.Retriable})) // kinds count
}

// Compile copies what it keeps.
func TestCompileCopies(t *testing.T) {
	is := is.New(t)
	decls := []builder.Decl{{Name: "a"}, {Name: "b", After: []string{"a"}}}
	p, err := builder.Compile(decls)
	is.NoErr(err)
	decls[0].Name = "changed"
	decls[1].After[0] = "changed"
	is.Equal(p.Decl(0).Name, "a")
	is.Equal(p.Decl(1).After, []string{"a"})
}

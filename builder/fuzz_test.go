package builder_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/saga"
)

// parseDecls reads declarations from fuzz input, a line a step:
// "name kind dep dep…", fields split on single spaces (so a name may be
// empty), kind a number (a bad one counts as 0, a big one wraps).
func parseDecls(text string) []builder.Decl {
	var decls []builder.Decl
	for line := range strings.SplitSeq(text, "\n") {
		if len(decls) == 64 {
			break // enough to find anything; keeps a run short
		}
		f := strings.Split(line, " ")
		d := builder.Decl{Name: f[0]}
		if len(f) > 1 {
			k, _ := strconv.Atoi(f[1])
			d.Kind = builder.Kind(k)
		}
		if len(f) > 2 {
			d.After = f[2:]
		}
		decls = append(decls, d)
	}
	return decls
}

// Definitions built from data compile to an error or to a valid plan,
// never a panic. A plan's order is the stable topological order its doc
// promises, its graph agrees with the declarations and the pivot rules,
// and its fingerprint is stable: the same for the same steps declared
// again (dependencies in any order, repeated), unmoved by changes to the
// declarations after Compile, and the one saga.Builder gets.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"a\nb\nc",
		"email 0 flight hotel\nhotel 0 debit\nflight 0 debit\ndebit\naudit",
		"a 0 c\nb 0 a\nc 0 b",
		"a\np 1\nr 2\ns 2 r",
		"a 0 r\np 1\nr 2",
		"p 1\nq 1",
		"a 9",
		"a 0 a",
		"a\na",
		"",
		" 0 x",
		"a 0 b b b\nb\nc 2 a b",
		"x 256\ny 1 x\nz 2 y x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		decls := parseDecls(text)
		p, err := builder.Compile(decls)
		if err != nil {
			if p != nil {
				t.Fatal("a plan with an error")
			}
			checkErrors(t, decls, err)
			return
		}
		checkPlan(t, decls, p)

		// The same steps, their dependencies reversed and repeated:
		// the same fingerprint. Changing the declarations afterwards
		// changes nothing.
		again := make([]builder.Decl, len(decls))
		for i, d := range decls {
			after := slices.Clone(d.After)
			slices.Reverse(after)
			again[i] = builder.Decl{Name: d.Name, Kind: d.Kind, After: append(after, after...)}
		}
		q, err := builder.Compile(again)
		if err != nil {
			t.Fatalf("the same steps again: %v", err)
		}
		if q.Fingerprint() != p.Fingerprint() {
			t.Fatalf("fingerprint not stable: %s, then %s", p.Fingerprint(), q.Fingerprint())
		}
		fp := p.Fingerprint()
		for i := range decls {
			decls[i].Name += "!"
			if len(decls[i].After) > 0 {
				decls[i].After[0] += "?"
			}
		}
		if p.Fingerprint() != fp {
			t.Fatal("the fingerprint changed with the declarations")
		}
		checkPlan(t, again, p) // unchanged too

		// A saga declared with the same steps has the same plan.
		b := saga.New[struct{}]().Name("fuzz")
		nop := func(context.Context, *struct{}) error { return nil }
		for _, d := range again {
			opts := []saga.StepOption{saga.After(d.After...)}
			undo := nop
			switch d.Kind {
			case builder.Pivot:
				opts = append(opts, saga.Pivot())
			case builder.Retriable:
				opts, undo = append(opts, saga.Retriable()), nil
			}
			b.Step(d.Name, nop, undo, opts...)
		}
		sg, err := b.Compile()
		if err != nil {
			t.Fatalf("saga.Builder refuses what builder.Compile takes: %v", err)
		}
		if sg.Plan().Fingerprint() != fp {
			t.Fatal("saga.Builder's plan has another fingerprint")
		}
	})
}

// checkErrors checks that every problem is an *Error naming a declared
// step by its index and wrapping one of the sentinels.
func checkErrors(t *testing.T, decls []builder.Decl, err error) {
	t.Helper()
	if err.Error() == "" {
		t.Fatal("an error that says nothing")
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("not an errors.Join: %T %v", err, err)
	}
	for _, e := range j.Unwrap() {
		var be *builder.Error
		if !errors.As(e, &be) {
			t.Fatalf("not a *builder.Error: %T %v", e, e)
		}
		if be.Index < 0 || be.Index >= len(decls) || be.Step != decls[be.Index].Name {
			t.Fatalf("error names step %q #%d, not a declared one", be.Step, be.Index)
		}
		known := false
		for _, s := range []error{builder.ErrEmptyName, builder.ErrDuplicateName, builder.ErrUnknownDependency,
			builder.ErrSelfDependency, builder.ErrCycle, builder.ErrKind} {
			known = known || errors.Is(e, s)
		}
		if !known {
			t.Fatalf("error wraps no sentinel: %v", e)
		}
	}
}

// checkPlan checks a compiled plan against its declarations.
func checkPlan(t *testing.T, decls []builder.Decl, p *builder.Plan) {
	t.Helper()
	n := len(decls)
	if p.Len() != n {
		t.Fatalf("Len %d, %d declared", p.Len(), n)
	}
	pivot := -1
	for i, d := range decls {
		if got := p.Decl(i); got.Name != d.Name || got.Kind != d.Kind {
			t.Fatalf("Decl(%d) = %+v, declared %+v", i, got, d)
		}
		if j, ok := p.Index(d.Name); !ok || j != i {
			t.Fatalf("Index(%q) = %d, %v; want %d", d.Name, j, ok, i)
		}
		if d.Kind == builder.Pivot {
			pivot = i
		}
		if d.Kind > builder.Retriable {
			t.Fatalf("kind %v compiled", d.Kind)
		}
	}
	if p.Pivot() != pivot {
		t.Fatalf("Pivot %d, want %d", p.Pivot(), pivot)
	}
	for i, d := range decls {
		deps := p.Deps(i)
		if !slices.IsSorted(deps) || len(slices.Compact(slices.Clone(deps))) != len(deps) {
			t.Fatalf("Deps(%d) = %v: not sorted and unique", i, deps)
		}
		// Every declared dependency is one; the pivot adds its barrier
		// and nothing else is added.
		for _, a := range d.After {
			j, _ := p.Index(a)
			if !slices.Contains(deps, j) {
				t.Fatalf("step %q: declared dependency %q missing from %v", d.Name, a, deps)
			}
		}
		for _, j := range deps {
			declared := slices.Contains(d.After, decls[j].Name)
			barrier := pivot >= 0 && (i == pivot && j < pivot || j == pivot && i > pivot)
			if !declared && !barrier {
				t.Fatalf("step %q runs after %q, which it did not declare", d.Name, decls[j].Name)
			}
		}
		if pivot >= 0 && i > pivot && d.Kind != builder.Retriable {
			t.Fatalf("step %q after the pivot is %v", d.Name, d.Kind)
		}
		for _, j := range p.Dependents(i) {
			if !slices.Contains(p.Deps(j), i) {
				t.Fatalf("Dependents(%d) has %d, whose Deps lack %d", i, j, i)
			}
		}
		for _, j := range deps {
			if !slices.Contains(p.Dependents(j), i) {
				t.Fatalf("Deps(%d) has %d, whose Dependents lack %d", i, j, i)
			}
		}
	}
	// The order: a permutation, each step after its dependencies, and
	// among the steps free to go the one declared first.
	order := p.Order()
	if len(order) != n {
		t.Fatalf("order %v of %d steps", order, n)
	}
	done := make([]bool, n)
	for k, i := range order {
		if i < 0 || i >= n || done[i] {
			t.Fatalf("order %v is not a permutation", order)
		}
		ready := func(j int) bool {
			for _, d := range p.Deps(j) {
				if !done[d] {
					return false
				}
			}
			return true
		}
		if !ready(i) {
			t.Fatalf("order %v: step %d at %d before its dependencies %v", order, i, k, p.Deps(i))
		}
		for j := range i {
			if !done[j] && ready(j) {
				t.Fatalf("order %v: step %d comes before %d, declared earlier and free to go", order, i, j)
			}
		}
		done[i] = true
	}
	if len(p.Fingerprint()) != 64 {
		t.Fatalf("fingerprint %q", p.Fingerprint())
	}
}

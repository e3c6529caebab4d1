package builder

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors returned by [Compile], wrapped in an [*Error] naming the step.
var (
	ErrEmptyName         = errors.New("empty step name")
	ErrDuplicateName     = errors.New("duplicate step name")
	ErrUnknownDependency = errors.New("unknown dependency")
	ErrSelfDependency    = errors.New("step depends on itself")
	ErrCycle             = errors.New("dependency cycle")
	ErrKind              = errors.New("invalid step kind")
)

// Error is a definition error found by [Compile].
type Error struct {
	// Step is the name of the offending step ("" for an unnamed one).
	Step string
	// Index is the step's position in declaration order.
	Index int
	// Err is one of the Err* sentinels of this package.
	Err error
	// Detail adds context, such as the unknown name or the cycle's path.
	Detail string
}

// Error describes the problem, e.g. `step "charge" (#2): unknown dependency "debit"`.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Step == "" {
		fmt.Fprintf(&b, "step #%d: %v", e.Index+1, e.Err)
	} else {
		fmt.Fprintf(&b, "step %q (#%d): %v", e.Step, e.Index+1, e.Err)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Compile validates the declarations and builds a [Plan]. It copies what it
// keeps, so later changes to decls do not affect the plan. All problems
// found are returned together (errors.Join of [*Error] values).
func Compile(decls []Decl) (*Plan, error) {
	n := len(decls)
	p := &Plan{
		decls:      make([]Decl, n),
		index:      make(map[string]int, n),
		deps:       make([][]int, n),
		dependents: make([][]int, n),
		pivot:      -1,
	}
	var errs []error
	bad := func(i int, err error, detail string) {
		errs = append(errs, &Error{Step: decls[i].Name, Index: i, Err: err, Detail: detail})
	}
	for i, d := range decls {
		d.After = slices.Clone(d.After)
		p.decls[i] = d
		switch {
		case d.Name == "":
			bad(i, ErrEmptyName, "")
		case p.has(d.Name):
			bad(i, ErrDuplicateName, fmt.Sprintf("first declared as step #%d", p.index[d.Name]+1))
		default:
			p.index[d.Name] = i
		}
	}
	for i, d := range p.decls {
		for _, a := range d.After {
			j, ok := p.index[a]
			switch {
			case a == d.Name:
				bad(i, ErrSelfDependency, "")
			case !ok:
				bad(i, ErrUnknownDependency, fmt.Sprintf("%q", a))
			case !slices.Contains(p.deps[i], j):
				p.deps[i] = append(p.deps[i], j)
				p.dependents[j] = append(p.dependents[j], i)
			}
		}
		slices.Sort(p.deps[i])
	}
	for j := range p.dependents {
		slices.Sort(p.dependents[j])
	}
	if len(errs) == 0 {
		errs = p.checkKinds(errs)
	}
	if len(errs) == 0 {
		if cyc := p.topo(); cyc != nil {
			names := make([]string, len(cyc))
			for k, i := range cyc {
				names[k] = fmt.Sprintf("%q", p.decls[i].Name)
			}
			bad(cyc[0], ErrCycle, strings.Join(names, " -> "))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p.print = p.fingerprint()
	return p, nil
}

func (p *Plan) has(name string) bool {
	_, ok := p.index[name]
	return ok
}

// topo fills p.order with a stable topological order (Kahn's algorithm,
// smallest declaration index first). On a cycle it returns one cycle's
// path, first step repeated at the end.
func (p *Plan) topo() []int {
	n := len(p.decls)
	indeg := make([]int, n)
	for i := range p.deps {
		indeg[i] = len(p.deps[i])
	}
	// ready is kept sorted descending so the smallest index pops from the end.
	var ready []int
	for i := n - 1; i >= 0; i-- {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	p.order = make([]int, 0, n)
	for len(ready) > 0 {
		i := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		p.order = append(p.order, i)
		for _, j := range p.dependents[i] {
			indeg[j]--
			if indeg[j] == 0 {
				k, _ := slices.BinarySearchFunc(ready, j, func(a, b int) int { return b - a })
				ready = slices.Insert(ready, k, j)
			}
		}
	}
	if len(p.order) == n {
		return nil
	}
	p.order = nil
	return p.findCycle(indeg)
}

// findCycle walks dependencies from a step left with unmet dependencies
// until a step repeats.
func (p *Plan) findCycle(indeg []int) []int {
	start := slices.IndexFunc(indeg, func(d int) bool { return d > 0 })
	seen := map[int]int{}
	var path []int
	for i := start; ; {
		if at, ok := seen[i]; ok {
			cyc := slices.Clone(path[at:])
			return append(cyc, i)
		}
		seen[i] = len(path)
		path = append(path, i)
		for _, d := range p.deps[i] {
			if indeg[d] > 0 {
				i = d
				break
			}
		}
	}
}

// checkKinds enforces the pivot rules (one pivot at most; every step
// declared after it is retriable) and makes the pivot a barrier: it runs
// after every step declared before it, and every step declared after it
// runs after it.
func (p *Plan) checkKinds(errs []error) []error {
	bad := func(i int, detail string) {
		errs = append(errs, &Error{Step: p.decls[i].Name, Index: i, Err: ErrKind, Detail: detail})
	}
	for i, d := range p.decls {
		switch {
		case d.Kind > Retriable:
			bad(i, d.Kind.String())
		case d.Kind == Pivot && p.pivot >= 0:
			bad(i, fmt.Sprintf("a saga has at most one pivot and %q is one already", p.decls[p.pivot].Name))
		case d.Kind == Pivot:
			p.pivot = i
		case p.pivot >= 0 && d.Kind != Retriable:
			bad(i, fmt.Sprintf("steps after the pivot %q can no longer be rolled back, so they must be retriable", p.decls[p.pivot].Name))
		}
	}
	if p.pivot < 0 || len(errs) > 0 {
		return errs
	}
	for i := range p.decls {
		switch {
		case i < p.pivot:
			p.link(i, p.pivot)
		case i > p.pivot:
			p.link(p.pivot, i)
		}
	}
	return errs
}

// link records that step to runs after step from, keeping lists sorted.
func (p *Plan) link(from, to int) {
	if k, found := slices.BinarySearch(p.deps[to], from); !found {
		p.deps[to] = slices.Insert(p.deps[to], k, from)
	}
	if k, found := slices.BinarySearch(p.dependents[from], to); !found {
		p.dependents[from] = slices.Insert(p.dependents[from], k, to)
	}
}

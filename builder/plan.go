package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Kind says how a step takes part in compensation.
type Kind uint8

const (
	// Compensatable is an ordinary step: when a later step fails, its
	// compensation (if any) undoes it.
	Compensatable Kind = iota
	// Pivot is the point of no return: once it succeeds the saga can no
	// longer be rolled back, and every step after it must be Retriable.
	Pivot
	// Retriable steps are retried forward until they succeed and are never
	// compensated.
	Retriable
)

// String returns "compensatable", "pivot" or "retriable".
func (k Kind) String() string {
	switch k {
	case Compensatable:
		return "compensatable"
	case Pivot:
		return "pivot"
	case Retriable:
		return "retriable"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Decl declares one step of a saga.
type Decl struct {
	// Name identifies the step; it must be non-empty and unique.
	Name string
	// Kind is the step's part in compensation.
	Kind Kind
	// After lists the names of the steps that must complete before this
	// one starts. A step with no dependencies depends on nothing when run
	// by a graph runner; a sequential runner still runs it in plan order.
	After []string
}

// Plan is a validated, immutable saga definition: declarations in their
// declaration order plus the derived graph. The zero Plan has no steps.
type Plan struct {
	decls      []Decl
	index      map[string]int
	deps       [][]int
	dependents [][]int
	order      []int
	pivot      int
	print      string
}

// Len returns the number of steps.
func (p *Plan) Len() int { return len(p.decls) }

// Decl returns the declaration of step i (in declaration order). The
// returned After slice must not be modified.
func (p *Plan) Decl(i int) Decl { return p.decls[i] }

// Index returns the position of the named step in declaration order.
func (p *Plan) Index(name string) (int, bool) {
	i, ok := p.index[name]
	return i, ok
}

// Deps returns the indices of the steps step i runs after, ascending. The
// returned slice must not be modified.
func (p *Plan) Deps(i int) []int { return p.deps[i] }

// Dependents returns the indices of the steps that run after step i,
// ascending. The returned slice must not be modified.
func (p *Plan) Dependents(i int) []int { return p.dependents[i] }

// Order returns a topological order of the steps (indices into declaration
// order): every step comes after all of its dependencies, and among steps
// free to go, the one declared first goes first. The returned slice must
// not be modified.
func (p *Plan) Order() []int { return p.order }

// Pivot returns the index of the pivot step, or -1 when there is none.
func (p *Plan) Pivot() int { return p.pivot }

// Fingerprint returns a stable hex digest of the names, kinds, declaration
// order and dependencies. Two plans have the same fingerprint exactly when
// they declare the same steps the same way.
func (p *Plan) Fingerprint() string { return p.print }

// fingerprint hashes names, kinds and dependencies in declaration order.
// Dependencies are the effective ones, so their order and repetition in
// After do not matter.
func (p *Plan) fingerprint() string {
	buf := []byte("sagakit-plan-v1\n")
	for i, d := range p.decls {
		buf = strconv.AppendQuote(buf, d.Name)
		buf = append(buf, ' ')
		buf = strconv.AppendUint(buf, uint64(d.Kind), 10)
		for _, j := range p.deps[i] {
			buf = append(buf, ' ')
			buf = strconv.AppendQuote(buf, p.decls[j].Name)
		}
		buf = append(buf, '\n')
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

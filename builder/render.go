package builder

import (
	"strconv"
	"strings"
)

// Sequential reports whether no step declares After: a sequential plan,
// which every runner runs one step at a time in [Plan.Order]. A plan with
// a pivot but no After is sequential too (the pivot's barrier adds
// nothing to a chain).
func (p *Plan) Sequential() bool {
	for _, d := range p.decls {
		if len(d.After) > 0 {
			return false
		}
	}
	return true
}

// Edges returns the arrows of a drawing of the plan, as pairs of step
// indices {from, to} (declaration order): for a [Plan.Sequential] plan,
// each step to the next one in [Plan.Order], the order it runs in;
// otherwise each step's dependencies ([Plan.Deps], the pivot's barrier
// included) to the step. Edges are sorted by their target, then their
// source. [Plan.Mermaid] and [Plan.DOT] draw them; tools that draw a run
// of the plan can draw the same.
func (p *Plan) Edges() [][2]int {
	var out [][2]int
	if p.Sequential() {
		for k := 1; k < len(p.order); k++ {
			out = append(out, [2]int{p.order[k-1], p.order[k]})
		}
		return out
	}
	for i := range p.decls {
		for _, j := range p.deps[i] {
			out = append(out, [2]int{j, i})
		}
	}
	return out
}

// Mermaid returns a Mermaid flowchart of the plan, left to right: a node
// per step, labelled with its name, and the arrows of [Plan.Edges]. A
// pivot is a hexagon of class "pivot", a retriable step a stadium of
// class "retriable", other steps rectangles. Node IDs are s0, s1, … in
// declaration order. Paste the text into a ```mermaid block of a
// Markdown file to see it drawn.
func (p *Plan) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for i, d := range p.decls {
		b.WriteString("    ")
		b.WriteString(MermaidNode(i, d.Kind, d.Name))
		b.WriteByte('\n')
	}
	for _, e := range p.Edges() {
		b.WriteString("    s" + strconv.Itoa(e[0]) + " --> s" + strconv.Itoa(e[1]) + "\n")
	}
	var pivots, retriables []string
	for i, d := range p.decls {
		switch d.Kind {
		case Pivot:
			pivots = append(pivots, "s"+strconv.Itoa(i))
		case Retriable:
			retriables = append(retriables, "s"+strconv.Itoa(i))
		}
	}
	if len(pivots) > 0 {
		b.WriteString("    classDef pivot stroke-width:3px\n")
		b.WriteString("    class " + strings.Join(pivots, ",") + " pivot\n")
	}
	if len(retriables) > 0 {
		b.WriteString("    classDef retriable stroke-dasharray:5 3\n")
		b.WriteString("    class " + strings.Join(retriables, ",") + " retriable\n")
	}
	return b.String()
}

// MermaidNode returns the Mermaid node statement of step i, of kind k,
// labelled label: `s0["label"]`, `s0{{"label"}}` for a pivot,
// `s0(["label"])` for a retriable step. The label is escaped (quotes and
// angle brackets become Mermaid entities); a "\n" in it becomes a line
// break.
func MermaidNode(i int, k Kind, label string) string {
	open, close := "[", "]"
	switch k {
	case Pivot:
		open, close = "{{", "}}"
	case Retriable:
		open, close = "([", "])"
	}
	return "s" + strconv.Itoa(i) + open + `"` + mermaidText(label) + `"` + close
}

// mermaidText escapes s for a quoted Mermaid label.
func mermaidText(s string) string {
	r := strings.NewReplacer("#", "#35;", `"`, "#quot;", "<", "#lt;", ">", "#gt;", "\n", "<br/>")
	return r.Replace(s)
}

// DOT returns a Graphviz digraph of the plan, left to right: a node per
// step, labelled with its name, and the arrows of [Plan.Edges]. A pivot
// is a hexagon with a thick border, a retriable step a dashed rounded box,
// other steps rounded boxes. Node IDs are s0, s1, … in declaration order.
// Render it with `dot -Tsvg`.
func (p *Plan) DOT() string {
	var b strings.Builder
	b.WriteString("digraph plan {\n")
	b.WriteString("    rankdir=LR;\n")
	b.WriteString("    node [shape=box, fontname=\"Helvetica\"];\n")
	for i, d := range p.decls {
		b.WriteString("    " + DOTNode(i, d.Kind, d.Name, "") + "\n")
	}
	for _, e := range p.Edges() {
		b.WriteString("    s" + strconv.Itoa(e[0]) + " -> s" + strconv.Itoa(e[1]) + ";\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// DOTNode returns the DOT node statement of step i, of kind k, labelled
// label and shaped as [Plan.DOT] draws kind k: `s0 [label="label"];`.
// A fill color (such as "#d4edda"; "" for none) fills the node. The label
// is quoted; a "\n" in it becomes a line break.
func DOTNode(i int, k Kind, label, fill string) string {
	a := []string{"label=" + DOTQuote(label)}
	var style []string
	switch k {
	case Pivot:
		a = append(a, "shape=hexagon", "penwidth=2")
	case Retriable:
		style = append(style, "rounded", "dashed")
	default:
		style = append(style, "rounded")
	}
	if fill != "" {
		style = append(style, "filled")
		a = append(a, "fillcolor="+DOTQuote(fill))
	}
	if len(style) > 0 {
		a = append(a, "style="+DOTQuote(strings.Join(style, ",")))
	}
	return "s" + strconv.Itoa(i) + " [" + strings.Join(a, ", ") + "];"
}

// DOTQuote returns s as a DOT quoted string: quotes and backslashes
// escaped, a "\n" kept as DOT's line break.
func DOTQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

package runview

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/sagakit/sagakit/builder"
)

// outcome is how a step's status is drawn: its Mermaid style and its
// DOT fill color.
type outcome struct{ style, fill string }

// outcomes maps a step's status (see Step.Status) to its drawing.
var outcomes = map[string]outcome{
	"pending":             {"fill:#ffffff,stroke:#9e9e9e,color:#616161", "#ffffff"},
	"running":             {"fill:#cfe2ff,stroke:#1565c0", "#cfe2ff"},
	"waiting":             {"fill:#e7dcf5,stroke:#6a1b9a", "#e7dcf5"},
	"succeeded":           {"fill:#d1e7dd,stroke:#2e7d32", "#d1e7dd"},
	"failed":              {"fill:#f8d7da,stroke:#c62828,stroke-width:2px", "#f8d7da"},
	"cancelled":           {"fill:#eeeeee,stroke:#757575,stroke-dasharray:4 2", "#eeeeee"},
	"compensated":         {"fill:#fff3cd,stroke:#b7791f", "#fff3cd"},
	"compensation_failed": {"fill:#f1aeb5,stroke:#7f1d1d,stroke-width:3px", "#f1aeb5"},
	"not_compensated":     {"fill:#ffe5d0,stroke:#b7791f", "#ffe5d0"},
}

// label is a step's node label in a run's graph: its name and outcome.
func (s *Step) label() string {
	out := s.Name + "\n" + strings.ReplaceAll(s.Status, "_", " ")
	if s.Attempts > 1 {
		out += " · " + strconv.Itoa(s.Attempts) + " attempts"
	}
	if s.Executions > 1 {
		out += " · " + strconv.Itoa(s.Executions) + " executions"
	}
	if s.Wait != nil {
		out += "\nfor " + waitName(s.Wait.Event)
	}
	if c := s.Compensation; c != nil && c.Status == "running" {
		out += "\ncompensating"
	}
	return out
}

func waitName(event string) string {
	if event == "" {
		return "a timer"
	}
	return strconv.Quote(event)
}

// Mermaid returns a Mermaid flowchart of the run: its plan drawn as
// [builder.Plan.Mermaid] draws it, each node labelled with the step's
// outcome and of a class named after its status (the status's name,
// such as succeeded or compensation_failed), which colors it. A run whose
// plan the store does not keep is drawn as the chain of its journaled
// steps.
func (r *Run) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	b.WriteString("    %% run " + r.ID + " of saga " + r.Saga + ": " + string(r.Status) + "\n")
	classes := map[string][]string{}
	for i := range r.plan.Len() {
		s := r.stepAt(i)
		b.WriteString("    " + builder.MermaidNode(i, r.plan.Decl(i).Kind, s.label()) + "\n")
		classes[s.Status] = append(classes[s.Status], "s"+strconv.Itoa(i))
	}
	for _, e := range r.plan.Edges() {
		b.WriteString("    s" + strconv.Itoa(e[0]) + " --> s" + strconv.Itoa(e[1]) + "\n")
	}
	for _, st := range slices.Sorted(maps.Keys(classes)) {
		o, ok := outcomes[st]
		if !ok {
			continue
		}
		b.WriteString("    classDef " + st + " " + o.style + "\n")
		b.WriteString("    class " + strings.Join(classes[st], ",") + " " + st + "\n")
	}
	return b.String()
}

// DOT returns a Graphviz digraph of the run: its plan drawn as
// [builder.Plan.DOT] draws it, each node labelled with the step's outcome
// and filled with its status's color.
func (r *Run) DOT() string {
	var b strings.Builder
	b.WriteString("// run " + r.ID + " of saga " + r.Saga + ": " + string(r.Status) + "\n")
	b.WriteString("digraph run {\n")
	b.WriteString("    rankdir=LR;\n")
	b.WriteString("    label=" + builder.DOTQuote(r.ID+" ("+r.Saga+"): "+string(r.Status)) + ";\n")
	b.WriteString("    node [shape=box, fontname=\"Helvetica\"];\n")
	for i := range r.plan.Len() {
		s := r.stepAt(i)
		b.WriteString("    " + builder.DOTNode(i, r.plan.Decl(i).Kind, s.label(), outcomes[s.Status].fill) + "\n")
	}
	for _, e := range r.plan.Edges() {
		b.WriteString("    s" + strconv.Itoa(e[0]) + " -> s" + strconv.Itoa(e[1]) + ";\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// stepAt returns the step drawn as node i of r.plan.
func (r *Run) stepAt(i int) *Step {
	name := r.plan.Decl(i).Name
	for k := range r.Steps {
		if r.Steps[k].Name == name {
			return &r.Steps[k]
		}
	}
	return &Step{Name: name, Status: "pending"}
}

package builder_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/builder"
)

func mustCompile(t *testing.T, decls ...builder.Decl) *builder.Plan {
	t.Helper()
	p, err := builder.Compile(decls)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSequentialPlanDrawsItsOrderAsAChain(t *testing.T) {
	is := is.New(t)
	p := mustCompile(t, builder.Decl{Name: "reserve"}, builder.Decl{Name: "charge", Kind: builder.Pivot},
		builder.Decl{Name: "ship", Kind: builder.Retriable}, builder.Decl{Name: "email", Kind: builder.Retriable})
	is.True(p.Sequential())
	// The pivot's barrier links reserve to ship and email too; a chain
	// draws only the order.
	is.Equal(p.Edges(), [][2]int{{0, 1}, {1, 2}, {2, 3}})
	want := `flowchart LR
    s0["reserve"]
    s1{{"charge"}}
    s2(["ship"])
    s3(["email"])
    s0 --> s1
    s1 --> s2
    s2 --> s3
    classDef pivot stroke-width:3px
    class s1 pivot
    classDef retriable stroke-dasharray:5 3
    class s2,s3 retriable
`
	if d := cmp.Diff(want, p.Mermaid()); d != "" {
		t.Errorf("Mermaid (-want +got):\n%s", d)
	}
}

func TestGraphPlanDrawsItsDependencies(t *testing.T) {
	is := is.New(t)
	p := mustCompile(t,
		builder.Decl{Name: "debit"},
		builder.Decl{Name: "flight", After: []string{"debit"}},
		builder.Decl{Name: "hotel", After: []string{"debit"}},
		builder.Decl{Name: "confirm", After: []string{"hotel", "flight"}},
	)
	is.True(!p.Sequential())
	is.Equal(p.Edges(), [][2]int{{0, 1}, {0, 2}, {1, 3}, {2, 3}})
	want := `digraph plan {
    rankdir=LR;
    node [shape=box, fontname="Helvetica"];
    s0 [label="debit", style="rounded"];
    s1 [label="flight", style="rounded"];
    s2 [label="hotel", style="rounded"];
    s3 [label="confirm", style="rounded"];
    s0 -> s1;
    s0 -> s2;
    s1 -> s3;
    s2 -> s3;
}
`
	if d := cmp.Diff(want, p.DOT()); d != "" {
		t.Errorf("DOT (-want +got):\n%s", d)
	}
}

func TestRenderingEscapesNames(t *testing.T) {
	is := is.New(t)
	p := mustCompile(t, builder.Decl{Name: `say "hi" <b>#1`}, builder.Decl{Name: `back\slash`, Kind: builder.Pivot})
	is.True(strings.Contains(p.Mermaid(), `s0["say #quot;hi#quot; #lt;b#gt;#35;1"]`))
	is.True(strings.Contains(p.DOT(), `s0 [label="say \"hi\" <b>#1", style="rounded"];`))
	is.True(strings.Contains(p.DOT(), `s1 [label="back\\slash", shape=hexagon, penwidth=2];`))
	is.Equal(builder.DOTNode(2, builder.Retriable, "a\nb", "#eee"), `s2 [label="a\nb", fillcolor="#eee", style="rounded,dashed,filled"];`)
	is.Equal(builder.MermaidNode(0, builder.Compensatable, "a\nb"), `s0["a<br/>b"]`)
}

func TestEmptyPlanDrawsNothing(t *testing.T) {
	is := is.New(t)
	var p builder.Plan
	is.Equal(p.Mermaid(), "flowchart LR\n")
	is.Equal(len(p.Edges()), 0)
}

func ExamplePlan_Mermaid() {
	p, err := builder.Compile([]builder.Decl{
		{Name: "debit"},
		{Name: "flight", After: []string{"debit"}},
		{Name: "hotel", After: []string{"debit"}},
		{Name: "confirm", Kind: builder.Pivot, After: []string{"flight", "hotel"}},
		{Name: "email", Kind: builder.Retriable},
	})
	if err != nil {
		panic(err)
	}
	fmt.Print(p.Mermaid())
	// Output:
	// flowchart LR
	//     s0["debit"]
	//     s1["flight"]
	//     s2["hotel"]
	//     s3{{"confirm"}}
	//     s4(["email"])
	//     s0 --> s1
	//     s0 --> s2
	//     s0 --> s3
	//     s1 --> s3
	//     s2 --> s3
	//     s3 --> s4
	//     classDef pivot stroke-width:3px
	//     class s3 pivot
	//     classDef retriable stroke-dasharray:5 3
	//     class s4 retriable
}

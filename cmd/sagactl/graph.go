package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sagakit/sagakit/builder"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/runview"
)

// graphJSON is what graph --json prints.
type graphJSON struct {
	Saga   string      `json:"saga"`
	RunID  string      `json:"run_id,omitempty"`
	Status string      `json:"status,omitempty"`
	Nodes  []graphNode `json:"nodes"`
	Edges  [][2]string `json:"edges"`
	// Format and Diagram: the drawing --format asks for.
	Format  string `json:"format"`
	Diagram string `json:"diagram"`
}

type graphNode struct {
	ID     string `json:"id"`
	Step   string `json:"step"`
	Kind   string `json:"kind"`
	Status string `json:"status,omitempty"`
}

func (a *app) graphCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph SAGA|RUN",
		Short: "Draw a saga's plan, or a run colored by outcome",
		Long: `Draw the plan of a saga (its steps and what each runs after; a sequential
saga as the chain of its steps), or of a run, each step colored by its
outcome. The argument is a run ID, a saga's name (the plan of its newest
run), or a run ID prefix that no other run has, in that order.

--format mermaid (the default: paste it into a ` + "```mermaid" + ` block of a
Markdown file) or dot (render it with 'dot -Tsvg'). With --json, the nodes
and edges, and the drawing in "diagram".

` + exitCodesHelp,
		Example: `  sagactl graph order
  sagactl graph order-1002 --format dot | dot -Tsvg > order-1002.svg`,
		Args: args(1, "a saga's name or a run ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "mermaid" && format != "dot" {
				return fail(exitUsage, "--format must be mermaid or dot, not %q", format)
			}
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			g, err := a.graph(ctx, args[0], format)
			if err != nil {
				return err
			}
			if a.asJSON {
				return printJSON(cmd.OutOrStdout(), g)
			}
			_, err = io.WriteString(cmd.OutOrStdout(), g.Diagram)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "mermaid", "mermaid or dot")
	return cmd
}

// graph draws the run or saga named arg.
func (a *app) graph(ctx context.Context, arg, format string) (*graphJSON, error) {
	// An exact run ID first, then a saga's name, then a run ID prefix.
	if _, _, err := a.store.Load(ctx, arg); err == nil {
		return a.runGraph(ctx, arg, format)
	} else if !errors.Is(err, journal.ErrNotFound) {
		return nil, a.storeError(err)
	}
	plan, run, err := runview.SagaPlan(ctx, a.store, arg)
	switch {
	case err == nil:
		g := &graphJSON{Saga: run.Saga, Format: format}
		for i := range plan.Len() {
			d := plan.Decl(i)
			g.Nodes = append(g.Nodes, graphNode{ID: "s" + strconv.Itoa(i), Step: d.Name, Kind: d.Kind.String()})
		}
		g.Edges = edges(plan)
		if format == "dot" {
			g.Diagram = plan.DOT()
		} else {
			g.Diagram = plan.Mermaid()
		}
		return g, nil
	case errors.Is(err, runview.ErrNoPlan):
		return nil, fail(exitNotFound, "the store keeps no plan for saga %q (its runs predate plans, or the store keeps none): graph one of its runs instead", arg)
	case !errors.Is(err, journal.ErrNotFound):
		return nil, a.storeError(err)
	}
	id, err := runview.Find(ctx, a.store, arg)
	var amb *runview.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return nil, fail(exitUsage, "%v: give more of the ID", amb)
	case errors.Is(err, journal.ErrNotFound):
		return nil, fail(exitNotFound, "no saga or run %q in %s", arg, a.describe)
	case err != nil:
		return nil, a.storeError(err)
	}
	return a.runGraph(ctx, id, format)
}

func (a *app) runGraph(ctx context.Context, id, format string) (*graphJSON, error) {
	r, err := runview.Inspect(ctx, a.store, id, runview.Options{})
	if err != nil {
		return nil, a.storeError(err)
	}
	g := &graphJSON{Saga: r.Saga, RunID: r.ID, Status: string(r.Status), Format: format}
	for i, s := range r.Steps {
		g.Nodes = append(g.Nodes, graphNode{ID: "s" + strconv.Itoa(i), Step: s.Name, Kind: s.Kind, Status: s.Status})
	}
	g.Edges = [][2]string{}
	for _, s := range r.Steps {
		for _, dep := range s.After {
			g.Edges = append(g.Edges, [2]string{dep, s.Name})
		}
	}
	if r.Sequential {
		for i := 1; i < len(r.Steps); i++ {
			g.Edges = append(g.Edges, [2]string{r.Steps[i-1].Name, r.Steps[i].Name})
		}
	}
	if format == "dot" {
		g.Diagram = r.DOT()
	} else {
		g.Diagram = r.Mermaid()
	}
	return g, nil
}

// edges returns a plan's arrows by step name.
func edges(p *builder.Plan) [][2]string {
	out := [][2]string{}
	for _, e := range p.Edges() {
		out = append(out, [2]string{p.Decl(e[0]).Name, p.Decl(e[1]).Name})
	}
	return out
}

func (a *app) timelineCommand() *cobra.Command {
	var format string
	var width int
	cmd := &cobra.Command{
		Use:   "timeline RUN",
		Short: "Show a run's steps and compensations in time",
		Long: `Show when each step of a run ran, and its compensation: as a bar chart in
the terminal (--format text, the default), or as a Mermaid Gantt chart
(--format mermaid). Steps that ran at once overlap. With --json, the bars
(see 'go doc github.com/sagakit/sagakit/runview.Timeline').

` + exitCodesHelp,
		Example: `  sagactl timeline trip-2001
  sagactl timeline trip-2001 --format mermaid`,
		Args: args(1, "one run ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "mermaid" {
				return fail(exitUsage, "--format must be text or mermaid, not %q", format)
			}
			if width < 10 || width > 500 {
				return fail(exitUsage, "--width must be between 10 and 500")
			}
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			id, err := a.findRun(ctx, args[0])
			if err != nil {
				return err
			}
			r, err := runview.Inspect(ctx, a.store, id, runview.Options{})
			if err != nil {
				return a.storeError(err)
			}
			t := r.Timeline()
			w := cmd.OutOrStdout()
			switch {
			case a.asJSON:
				return printJSON(w, t)
			case format == "mermaid":
				_, err = io.WriteString(w, t.Mermaid())
			default:
				_, err = fmt.Fprint(w, t.Text(width))
			}
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or mermaid")
	cmd.Flags().IntVar(&width, "width", 50, "columns of the bars (text)")
	return cmd
}

package dashboard

import (
	"strconv"
	"strings"

	"github.com/sagakit/sagakit/runview"
)

// Drawings past these sizes are left out: the steps table says it all.
const (
	maxGraphSteps = 300
	maxBars       = 1000
)

// svg is a drawing the run template renders as inline SVG (escaped as
// any other text), styled by the embedded CSS (classes named after
// statuses: st-succeeded, st-failed…).
type svg struct {
	W, H    int
	Nodes   []node
	Edges   []edge
	Bars    []bar
	Ticks   []tick
	Omitted string // why nothing is drawn
}

type node struct {
	X, Y, W, H   int
	TX, TY, SY   int // the name's and the status's anchor
	Class        string
	Name, Status string
}

type edge struct{ X1, Y1, X2, Y2 int }

type bar struct {
	X, Y, W, H int
	TY, VX     int // the label's baseline, the value's x
	Class      string
	Label      string
	Value      string
	Title      string
}

type tick struct {
	X, Y  int
	Label string
}

const (
	nodeW, nodeH = 168, 44
	gapX, gapY   = 24, 40
)

// graphSVG draws the run's steps in rows by level, with arrows from each
// step to those that run after it.
func graphSVG(run *runview.Run) *svg {
	n := len(run.Steps)
	if n == 0 {
		return &svg{Omitted: "The run has no step."}
	}
	if n > maxGraphSteps {
		return &svg{Omitted: "The graph of " + strconv.Itoa(n) + " steps is not drawn: see the steps below."}
	}
	index := make(map[string]int, n)
	for i, s := range run.Steps {
		index[s.Name] = i
	}
	level := make([]int, n)
	var edges [][2]int
	chain := run.Sequential || !run.Planned
	for i, s := range run.Steps {
		if chain {
			level[i] = i
			if i > 0 {
				edges = append(edges, [2]int{i - 1, i})
			}
			continue
		}
		for _, a := range s.After {
			if j, ok := index[a]; ok && j < i { // a plan lists a step after those it follows
				level[i] = max(level[i], level[j]+1)
				edges = append(edges, [2]int{j, i})
			}
		}
	}
	var rows [][]int
	for i, l := range level {
		for len(rows) <= l {
			rows = append(rows, nil)
		}
		rows[l] = append(rows[l], i)
	}
	g := &svg{}
	pos := make([]node, n)
	widest := 0
	for _, r := range rows {
		widest = max(widest, len(r))
	}
	g.W = max(widest*(nodeW+gapX)-gapX, nodeW) + 2*8
	for l, r := range rows {
		rowW := len(r)*(nodeW+gapX) - gapX
		x0 := (g.W - rowW) / 2
		for k, i := range r {
			s := run.Steps[i]
			x, y := x0+k*(nodeW+gapX), 8+l*(nodeH+gapY)
			status := strings.ReplaceAll(s.Status, "_", " ")
			if s.Attempts > 1 {
				status += " · " + strconv.Itoa(s.Attempts) + " attempts"
			}
			pos[i] = node{X: x, Y: y, W: nodeW, H: nodeH, TX: x + nodeW/2, TY: y + 18, SY: y + 35,
				Class: "st-" + s.Status, Name: clip(s.Name, 24), Status: clip(status, 28)}
		}
	}
	g.H = 8 + len(rows)*(nodeH+gapY) - gapY + 8
	g.Nodes = pos
	for _, e := range edges {
		a, b := pos[e[0]], pos[e[1]]
		g.Edges = append(g.Edges, edge{X1: a.X + nodeW/2, Y1: a.Y + nodeH, X2: b.X + nodeW/2, Y2: b.Y - 2})
	}
	return g
}

const (
	labelW, chartW, barH, barGap = 170, 560, 16, 6
)

// timelineSVG draws the timeline as a Gantt chart: one bar per action or
// compensation, on the run's clock.
func timelineSVG(t runview.Timeline) *svg {
	if len(t.Bars) == 0 {
		return &svg{Omitted: "No step started."}
	}
	if len(t.Bars) > maxBars {
		return &svg{Omitted: "The timeline of " + strconv.Itoa(len(t.Bars)) + " bars is not drawn: see the steps below."}
	}
	total := t.ElapsedMS
	for _, b := range t.Bars {
		total = max(total, b.StartMS+b.DurationMS)
	}
	g := &svg{W: labelW + chartW + 90, H: 24 + len(t.Bars)*(barH+barGap) + 4}
	for i, b := range t.Bars {
		x, w := 0, chartW
		if total > 0 {
			x = int(b.StartMS / total * chartW)
			w = int((b.StartMS+b.DurationMS)/total*chartW) - x
		}
		x = min(x, chartW-2)
		w = max(w, 2)
		y := 24 + i*(barH+barGap)
		label := b.Step
		class := "st-" + b.Status
		if b.Phase == "compensation" {
			label = "undo " + label
			class += " comp"
		}
		if b.Open {
			class += " open"
		}
		value := "+" + runview.Millis(b.DurationMS)
		g.Bars = append(g.Bars, bar{
			X: labelW + x, Y: y, W: w, H: barH, TY: y + barH - 4, VX: labelW + x + w + 4,
			Class: class, Label: clip(label, 26), Value: value,
			Title: label + ": " + strings.ReplaceAll(b.Status, "_", " ") + ", from " + runview.Millis(b.StartMS) + " " + value,
		})
	}
	for _, f := range []float64{0, 0.5, 1} {
		g.Ticks = append(g.Ticks, tick{X: labelW + int(f*chartW), Y: 14, Label: runview.Millis(f * total)})
	}
	return g
}

// clip shortens s to n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

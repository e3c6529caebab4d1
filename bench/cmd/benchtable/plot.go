package main

import (
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// series is one line of the throughput plot: the steps/s of the
// benchmark prefix+"/"+n for each n of conc.
type series struct {
	label, prefix string
}

var throughput = []series{
	{"SQLite: sagakit", "durable.ThroughputSQLite/sagakit"},
	{"SQLite: raw database/sql", "durable.ThroughputSQLite/raw"},
	{"PostgreSQL: sagakit", "durable.ThroughputPostgres/sagakit"},
	{"PostgreSQL: raw pgx", "durable.ThroughputPostgres/raw"},
	{"PostgreSQL: DBOS Transact Go", "bench.Postgres/dbos"},
}

// plotThroughput draws the median steps/s of each series against the
// number of runs at once, both axes logarithmic, to file (its extension
// names the format: .svg, .png). A series without any figure is left
// out; it returns how many were drawn.
func plotThroughput(res *results, file string) (int, error) {
	p := plot.New()
	p.Title.Text = "Durable 5-step sagas: throughput vs runs at once"
	p.X.Label.Text = "runs at once"
	p.Y.Label.Text = "steps/s (median)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	var ticks []plot.Tick
	for _, n := range conc {
		x, _ := strconv.ParseFloat(n, 64)
		ticks = append(ticks, plot.Tick{Value: x, Label: n})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(12)
	p.Add(plotter.NewGrid())
	var lines []any
	lo, hi := math.Inf(1), 0.0
	for _, s := range throughput {
		var xys plotter.XYs
		for _, n := range conc {
			if v, ok := res.median("steps/s", s.prefix+"/"+n); ok && v > 0 {
				x, _ := strconv.ParseFloat(n, 64)
				xys = append(xys, plotter.XY{X: x, Y: v})
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		if len(xys) > 0 {
			lines = append(lines, s.label, xys)
		}
	}
	if len(lines) == 0 {
		return 0, nil
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return 0, err
	}
	// Room above the lines for the legend.
	p.X.Min, p.X.Max = 0.8, 80
	p.Y.Min, p.Y.Max = lo/1.5, hi*6
	p.Y.Tick.Marker = plot.ConstantTicks(ticks125(p.Y.Min, p.Y.Max))
	if err := p.Save(7*vg.Inch, 4.5*vg.Inch, file); err != nil {
		return 0, fmt.Errorf("plot: %w", err)
	}
	return len(lines) / 2, nil
}

// ticks125 returns ticks at 1, 2 and 5 times the powers of ten from lo to
// hi, labelled with their thousands separated.
func ticks125(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for p := math.Pow(10, math.Floor(math.Log10(lo))); p <= hi; p *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := m * p; v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v, Label: group(v)})
			}
		}
	}
	return ticks
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// out is go test output as the suites print it: two packages, a
// benchmark measured twice, custom units, and a PostgreSQL benchmark that
// did not run.
const out = `loadavg: 0.50 0.40 0.30
goos: linux
goarch: amd64
pkg: github.com/sagakit/sagakit/saga
cpu: Some CPU
BenchmarkRun10-2        	 1000000	      1000 ns/op	       900 cpu-ns/op	    1536 B/op	       2 allocs/op
BenchmarkRun10-2        	 1000000	      1200 ns/op	      1000 cpu-ns/op	    1536 B/op	       2 allocs/op
BenchmarkRun10-2        	 1000000	      1100 ns/op	       950 cpu-ns/op	    1536 B/op	       2 allocs/op
BenchmarkHandTimed10-2  	 3000000	       400 ns/op	     240 B/op	       1 allocs/op
BenchmarkRunSteps/100-2 	   10000	    100000 ns/op	      1000 ns/step
PASS
loadavg: 1.50 1.40 1.30
pkg: github.com/sagakit/sagakit/durable
BenchmarkFsync-2                         	     500	   2000000 ns/op	       500.0 fsync/s
BenchmarkThroughputSQLite/sagakit/64-2   	    1000	    100000 ns/op	        12.5 p50-ms	        20.0 p99-ms	     50000 steps/s
BenchmarkThroughputSQLite/raw/64-2       	    1000	     50000 ns/op	    100000 steps/s
BenchmarkScaleState/1KiB-2               	     100	     10000 ns/op	      1100 B/step	      9000 ns/step
--- FAIL: BenchmarkScaleSteps/10
FAIL
`

func parseOut(t *testing.T) *results {
	t.Helper()
	res, err := parse(strings.NewReader(out), "out.txt")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestParseKeysAndMedians(t *testing.T) {
	is := is.New(t)
	res := parseOut(t)
	v, ok := res.median("ns/op", "saga.Run10")
	is.True(ok)
	is.Equal(v, 1100.0) // the median of 1000, 1200 and 1100, in the unit go test printed
	v, ok = res.median("ns/step", "saga.RunSteps/100")
	is.True(ok)
	is.Equal(v, 1000.0)
	_, ok = res.median("ns/op", "saga.Run10-2")
	is.True(!ok) // keys leave out GOMAXPROCS
	v, ok = res.median("steps/s", "durable.Nothing", "durable.ThroughputSQLite/raw/64")
	is.True(ok) // the first of the keys measured
	is.Equal(v, 100000.0)
	is.Equal(res.loads, []string{"0.50 0.40 0.30", "1.50 1.40 1.30"})
	lo, hi := res.runs()
	is.Equal([]int{lo, hi}, []int{1, 3})
}

// line returns the table's line for the row labelled label.
func line(t *testing.T, table, label string) string {
	t.Helper()
	for l := range strings.Lines(table) {
		if strings.HasPrefix(l, "| "+label+" |") {
			return strings.TrimSpace(l)
		}
	}
	t.Fatalf("no row %q in\n%s", label, table)
	return ""
}

func TestRender(t *testing.T) {
	is := is.New(t)
	rows := []row{
		section("In memory"),
		{label: "runner", ours: k("saga.Run10"), base: k("saga.HandTimed10"), unit: "ns/op", ratio: times, steps: 10,
			extra: k("cpu-ns/op", "allocs/op")},
		{label: "sqlite", ours: k("durable.ThroughputSQLite/sagakit/64"), base: k("durable.ThroughputSQLite/raw/64"),
			unit: "steps/s", ratio: percent, perFsync: true},
		{label: "latency", ours: k("durable.ThroughputSQLite/sagakit/64"), base: k("durable.ThroughputSQLite/raw/64"),
			unit: "p50-ms", unit2: "p99-ms", ratio: times},
		{label: "scale", ours: k("durable.ScaleSteps/1000"), base: k("durable.ScaleSteps/10"), unit: "ns/step", ratio: times},
		{label: "postgres", ours: k("durable.ThroughputPostgres/sagakit/1"), base: k("durable.ThroughputPostgres/raw/1"),
			unit: "steps/s", ratio: percent, postgres: true},
		{label: "disk", ours: k("durable.Fsync"), unit: "fsync/s"},
		{label: "state", ours: k("durable.ScaleState/1KiB"), base: k("durable.ScaleState/raw-1KiB"), unit: "ns/step",
			ratio: times, extra: k("B/step")},
	}
	var b strings.Builder
	is.NoErr(render(&b, parseOut(t), rows, true))
	got := b.String()
	is.Equal(line(t, got, "**In memory**"), "| **In memory** | | | | |")
	is.Equal(line(t, got, "runner"), "| runner | 1.1 µs | 400 ns | 2.75x | +70 ns/step; 950 ns CPU vs —; 2 allocs vs 1 allocs |")
	is.Equal(line(t, got, "sqlite"), "| sqlite | 50,000 steps/s | 100,000 steps/s | 50% | 100 steps per fsync (raw 200) |")
	is.Equal(line(t, got, "latency"), "| latency | 12.5 / 20 ms | — |  |  |")
	is.Equal(line(t, got, "scale"), "| scale | — | — |  |  |")
	is.Equal(line(t, got, "postgres"), "| postgres | skipped (SAGAKIT_POSTGRES_DSN unset) | — |  |  |")
	is.Equal(line(t, got, "disk"), "| disk | 500 fsync/s |  |  |  |")
	is.Equal(line(t, got, "state"), "| state | 9 µs/step | — |  | 1.07 KiB journaled/step vs — |")

	b.Reset()
	is.NoErr(render(&b, parseOut(t), rows, false))
	is.Equal(line(t, b.String(), "postgres"), "| postgres | — | — |  |  |") // a server, but no figure
}

// TestTableRowsWellFormed: every comparison names sagakit's benchmark and
// a unit, and a ratio only with a baseline.
func TestTableRowsWellFormed(t *testing.T) {
	is := is.New(t)
	for _, r := range table() {
		if r.section {
			continue
		}
		is.True(len(r.ours) > 0 && r.unit != "")       // r.label
		is.True(r.ratio == noRatio || len(r.base) > 0) // r.label
	}
}

func TestFormat(t *testing.T) {
	is := is.New(t)
	is.Equal(group(1234567.4), "1,234,567")
	is.Equal(group(999), "999")
	is.Equal(sig(0.1234), "0.123")
	is.Equal(sig(999.7), "1,000")
	is.Equal(duration(1500), "1.5 µs")
	is.Equal(duration(2.5e9), "2.5 s")
	is.Equal(byteSize(102400), "100 KiB")
}

func TestPlot(t *testing.T) {
	is := is.New(t)
	file := filepath.Join(t.TempDir(), "plot.svg")
	n, err := plotThroughput(parseOut(t), file)
	is.NoErr(err)
	is.Equal(n, 2) // SQLite's two series; nothing else was measured
	svg, err := os.ReadFile(file)
	is.NoErr(err)
	is.True(strings.Contains(string(svg), "SQLite: raw database/sql"))

	empty, err := parse(strings.NewReader("PASS\n"), "empty")
	is.NoErr(err)
	n, err = plotThroughput(empty, filepath.Join(t.TempDir(), "none.svg"))
	is.NoErr(err)
	is.Equal(n, 0)
}

package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ratioKind says how a row compares sagakit's median with the
// baseline's.
type ratioKind int

const (
	noRatio ratioKind = iota
	times             // sagakit ÷ baseline, as 2.40x
	percent           // sagakit ÷ baseline, as 45%
)

// row is one line of the table: a comparison of sagakit's median with a
// baseline's measured in the same run, a figure alone, or (label only,
// section set) a section's title.
type row struct {
	section  bool
	label    string
	ours     []string // keys of sagakit's benchmark; the first measured is used
	base     []string // keys of the baseline's; none for a figure alone
	unit     string   // the unit compared
	unit2    string   // a second unit shown after the first (p99-ms after p50-ms)
	ratio    ratioKind
	steps    int      // > 0: the note gives the overhead per step, (ours-base)/steps
	perFsync bool     // the note gives the steps per fsync of BenchmarkFsync
	extra    []string // units the note gives for both sides (cpu-ns/op, allocs/op, B/step)
	postgres bool     // needs SAGAKIT_POSTGRES_DSN
}

func k(keys ...string) []string { return keys }

func section(title string) row { return row{section: true, label: title} }

// inMemory is the units the in-memory rows note beside the wall time.
var inMemory = k("cpu-ns/op", "allocs/op")

// conc is the numbers of runs at once of the throughput benchmarks.
var conc = []string{"1", "8", "64"}

// table is the rows of the table, in order.
func table() []row {
	t := []row{
		section("In memory (ns/op; lower is better)"),
		{label: "Sequential runner, 10 steps, vs hand-written code reading the clock per step",
			ours: k("saga.Run10"), base: k("saga.HandTimed10"), unit: "ns/op", ratio: times, steps: 10,
			extra: inMemory},
		{label: "Sequential runner, 10 steps, vs hand-written code returning the same report on the heap",
			ours: k("saga.Run10"), base: k("saga.HandReport10"), unit: "ns/op", ratio: times, steps: 10,
			extra: inMemory},
		{label: "Sequential runner, 10 steps, vs hand-written code without clock reads",
			ours: k("saga.Run10"), base: k("saga.Hand10"), unit: "ns/op", ratio: times, steps: 10,
			extra: inMemory},
		{label: "With hooks (every callback) vs hand-written code calling the same",
			ours: k("saga.RunHooks10"), base: k("saga.HandHooks10"), unit: "ns/op", ratio: times, steps: 10,
			extra: inMemory},
		{label: "With a logger vs hand-written code logging the same",
			ours: k("saga.RunLogger10"), base: k("saga.HandLogger10"), unit: "ns/op", ratio: times, steps: 10,
			extra: inMemory},
		{label: "Parallel runner, 1,000 steps, vs errgroup",
			ours: k("parallel.Run1000"), base: k("parallel.Errgroup1000"), unit: "ns/op", ratio: times, steps: 1000,
			extra: inMemory},
		{label: "Parallel fan-out, 10,000 steps, vs errgroup",
			ours: k("parallel.Run10000", "parallel.FanOut10000"), base: k("parallel.Errgroup10000"),
			unit: "ns/op", ratio: times, steps: 10000, extra: inMemory},
		{label: "Parallel fan-out, 10,000 steps each waiting 100 ms",
			ours: k("parallel.Run10000Waits"), unit: "ns/op"},

		section("Retries (ns/op; lower is better)"),
	}
	for _, sc := range []struct{ name, label string }{
		{"FirstTrySuccess", "retry.Do, success at the first try"},
		{"TenAttemptsNoWait", "retry.Do, 10 attempts without waits"},
	} {
		for _, lib := range []struct{ bench, label string }{{"Backoff", "cenkalti/backoff v5"}, {"Failsafe", "failsafe-go"}} {
			t = append(t, row{label: sc.label + ", vs " + lib.label,
				ours: k("bench.Sagakit/" + sc.name), base: k("bench." + lib.bench + "/" + sc.name),
				unit: "ns/op", ratio: times, extra: k("allocs/op")})
		}
	}

	t = append(t, section("Durable throughput (steps/s of 5-step sagas; higher is better; raw: the same writes in plain SQL with the same batching)"))
	for _, n := range conc {
		t = append(t, row{label: "SQLite, " + n + " at once, vs raw database/sql",
			ours: k("durable.ThroughputSQLite/sagakit/" + n), base: k("durable.ThroughputSQLite/raw/" + n),
			unit: "steps/s", ratio: percent, perFsync: true})
	}
	for _, n := range conc {
		t = append(t, row{label: "PostgreSQL, " + n + " at once, vs raw pgx",
			ours: k("durable.ThroughputPostgres/sagakit/" + n), base: k("durable.ThroughputPostgres/raw/" + n),
			unit: "steps/s", ratio: percent, perFsync: true, postgres: true})
	}
	for _, n := range conc {
		t = append(t, row{label: "PostgreSQL, " + n + " at once, vs DBOS Transact Go",
			ours: k("bench.Postgres/sagakit/" + n), base: k("bench.Postgres/dbos/" + n),
			unit: "steps/s", ratio: times, postgres: true})
	}
	t = append(t,
		row{label: "PostgreSQL, 64 at once, Start, Work and Wait (a fleet's path) vs Run",
			ours: k("bench.Postgres/sagakit-start/64"), base: k("bench.Postgres/sagakit/64"),
			unit: "steps/s", ratio: percent, postgres: true},
		row{label: "The disk: a 64-byte append and fsync",
			ours: k("durable.Fsync"), unit: "fsync/s"},

		section("Latency of a run (p50 / p99; lower is better; ratio of the medians)"))
	for _, n := range conc {
		t = append(t, row{label: "SQLite, " + n + " at once (raw SQL's lockstep rounds report none)",
			ours: k("durable.ThroughputSQLite/sagakit/" + n), unit: "p50-ms", unit2: "p99-ms"})
	}
	for _, n := range conc {
		t = append(t, row{label: "PostgreSQL, " + n + " at once, vs raw pgx",
			ours: k("durable.ThroughputPostgres/sagakit/" + n), base: k("durable.ThroughputPostgres/raw/" + n),
			unit: "p50-ms", unit2: "p99-ms", ratio: times, postgres: true})
	}
	for _, n := range conc {
		t = append(t, row{label: "PostgreSQL, " + n + " at once, vs DBOS Transact Go",
			ours: k("bench.Postgres/sagakit/" + n), base: k("bench.Postgres/dbos/" + n),
			unit: "p50-ms", unit2: "p99-ms", ratio: times, postgres: true})
	}

	t = append(t, section("OpenTelemetry hooks, 10-step saga (otelsaga; ns/step; lower is better)"))
	for _, s := range []struct{ name, label string }{
		{"noop", "Hooks with no-op providers"},
		{"traces", "Traces, every span sampled"},
		{"traces+metrics", "Traces and metrics"},
	} {
		t = append(t, row{label: s.label + ", vs no hooks",
			ours: k("otelsaga.Step/" + s.name), base: k("otelsaga.Step/none"), unit: "ns/step", ratio: times, steps: 1,
			extra: k("cpu-ns/step")})
	}

	t = append(t, section("Scaling (ns/step; flat is good)"))
	for _, n := range []string{"10", "100", "1000"} {
		t = append(t, row{label: "In memory, " + thousands(n) + " steps, vs hand-written code reading the clock per step",
			ours: k("saga.RunSteps/" + n), base: k("saga.HandTimedSteps/" + n), unit: "ns/step", ratio: times, steps: 1,
			extra: k("cpu-ns/step", "allocs/op")})
	}
	for _, n := range []string{"100", "1000"} {
		t = append(t, row{label: "Durable on SQLite, a lone run of " + thousands(n) + " steps, vs one of 10",
			ours: k("durable.ScaleSteps/" + n), base: k("durable.ScaleSteps/10"), unit: "ns/step", ratio: times,
			extra: k("B/step")})
	}
	for _, size := range []string{"1KiB", "100KiB"} {
		t = append(t, row{label: "Durable on SQLite, a " + size + " state changed by each step, vs raw writes of the same bytes",
			ours: k("durable.ScaleState/" + size), base: k("durable.ScaleState/raw-" + size),
			unit: "ns/step", ratio: times, extra: k("B/step")})
	}
	return t
}

// thousands is the whole number n with its thousands separated.
func thousands(n string) string {
	v, _ := strconv.ParseFloat(n, 64)
	return group(v)
}

// render writes the table in Markdown: each row's label, sagakit's
// median, the baseline's and the ratio, and a note. A missing benchmark
// shows as "—"; with pgSkipped, a missing PostgreSQL one says so.
func render(w io.Writer, res *results, rows []row, pgSkipped bool) error {
	var b strings.Builder
	b.WriteString("| Comparison | sagakit | baseline | ratio | note |\n|---|--:|--:|--:|---|\n")
	for _, r := range rows {
		if r.section {
			fmt.Fprintf(&b, "| **%s** | | | | |\n", r.label)
			continue
		}
		a, okA := res.median(r.unit, r.ours...)
		c, okC := res.median(r.unit, r.base...)
		ours, base, ratio := missing, missing, ""
		if okA {
			ours = r.format(res, r.ours)
		} else if r.postgres && pgSkipped {
			ours = "skipped (SAGAKIT_POSTGRES_DSN unset)"
		}
		if okC {
			base = r.format(res, r.base)
		}
		if len(r.base) == 0 {
			base = ""
		}
		if okA && okC && c != 0 {
			switch r.ratio {
			case times:
				ratio = fmt.Sprintf("%.2fx", a/c)
			case percent:
				ratio = fmt.Sprintf("%.0f%%", 100*a/c)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.label, ours, base, ratio, r.notes(res, a, c, okA, okC))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// missing is the cell of a benchmark that was not measured.
const missing = "—"

// format is the median of the first measured of keys in the row's unit
// (and unit2).
func (r row) format(res *results, keys []string) string {
	v, _ := res.median(r.unit, keys...)
	if r.unit2 == "" {
		return value(r.unit, v)
	}
	v2, ok := res.median(r.unit2, keys...)
	if !ok {
		return value(r.unit, v) + " / " + missing
	}
	return fmt.Sprintf("%s / %s ms", sig(v), sig(v2))
}

// notes is a row's note: the overhead per step, the steps per fsync, the
// extra unit of both sides.
func (r row) notes(res *results, a, c float64, okA, okC bool) string {
	var notes []string
	if r.steps > 0 && okA && okC {
		d := (a - c) / float64(r.steps)
		sign := "+"
		if d < 0 {
			sign, d = "−", -d
		}
		notes = append(notes, sign+duration(d)+"/step")
	}
	if fs, ok := res.median("fsync/s", "durable.Fsync"); r.perFsync && ok && fs > 0 && okA {
		n := sig(a/fs) + " steps per fsync"
		if okC {
			n = fmt.Sprintf("%s steps per fsync (raw %s)", sig(a/fs), sig(c/fs))
		}
		notes = append(notes, n)
	}
	for _, unit := range r.extra {
		x, okX := res.median(unit, r.ours...)
		y, okY := res.median(unit, r.base...)
		cell := func(v float64, ok bool) string {
			if !ok {
				return missing
			}
			return value(unit, v)
		}
		switch {
		case okX && len(r.base) == 0:
			notes = append(notes, cell(x, okX))
		case okX || okY:
			notes = append(notes, fmt.Sprintf("%s vs %s", cell(x, okX), cell(y, okY)))
		}
	}
	return strings.Join(notes, "; ")
}

// value formats v in unit as the table shows it.
func value(unit string, v float64) string {
	switch unit {
	case "ns/op":
		return duration(v)
	case "ns/step":
		return duration(v) + "/step"
	case "B/step":
		return byteSize(v) + " journaled/step"
	case "cpu-ns/op":
		return duration(v) + " CPU"
	case "cpu-ns/step":
		return duration(v) + " CPU/step"
	case "allocs/op":
		return sig(v) + " allocs"
	case "p50-ms", "p99-ms":
		return sig(v) + " ms"
	default: // steps/s, fsync/s
		return group(v) + " " + unit
	}
}

// duration formats a number of nanoseconds.
func duration(ns float64) string {
	switch {
	case ns < 1e3:
		return sig(ns) + " ns"
	case ns < 1e6:
		return sig(ns/1e3) + " µs"
	case ns < 1e9:
		return sig(ns/1e6) + " ms"
	}
	return sig(ns/1e9) + " s"
}

// byteSize formats a number of bytes.
func byteSize(v float64) string {
	if v < 1024 {
		return group(v) + " B"
	}
	return sig(v/1024) + " KiB"
}

// sig formats v with 3 significant digits, or as a whole number with
// thousands separated if it has more before the point.
func sig(v float64) string {
	if math.Abs(v) >= 999.5 {
		return group(v)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// group formats v rounded to a whole number, thousands separated by
// commas.
func group(v float64) string {
	s := strconv.FormatInt(int64(math.Round(math.Abs(v))), 10)
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

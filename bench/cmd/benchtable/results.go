package main

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// results holds the measurements of a benchmark output, by benchmark and
// unit.
type results struct {
	// samples maps a benchmark's key (its package's last element, a dot,
	// its name without "Benchmark" and the GOMAXPROCS suffix, as in
	// "durable.ThroughputSQLite/raw/8") to its values by unit, in the
	// units go test printed (ns/op, not sec/op).
	samples map[string]map[string][]float64
	// loads are the distinct values of the "loadavg" configuration
	// lines, in the order they came.
	loads []string
}

// parse reads benchmark output in the Go benchmark format.
func parse(r io.Reader, fileName string) (*results, error) {
	res := &results{samples: map[string]map[string][]float64{}}
	rd := benchfmt.NewReader(r, fileName)
	for rd.Scan() {
		rec, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			continue // a line the format does not know, e.g. a test failure
		}
		if l := rec.GetConfig("loadavg"); l != "" && !slices.Contains(res.loads, l) {
			res.loads = append(res.loads, l)
		}
		key := keyOf(rec)
		units := res.samples[key]
		if units == nil {
			units = map[string][]float64{}
			res.samples[key] = units
		}
		for _, v := range rec.Values {
			unit, val := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, val = v.OrigUnit, v.OrigValue
			}
			units[unit] = append(units[unit], val)
		}
	}
	if err := rd.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", fileName, err)
	}
	return res, nil
}

// keyOf is a result's key in results.samples.
func keyOf(r *benchfmt.Result) string {
	base, parts := r.Name.Parts()
	var b strings.Builder
	b.WriteString(path.Base(r.GetConfig("pkg")))
	b.WriteByte('.')
	b.WriteString(strings.TrimPrefix(string(base), "Benchmark"))
	for _, p := range parts {
		if !strings.HasPrefix(string(p), "-") { // not the GOMAXPROCS suffix
			b.Write(p)
		}
	}
	return b.String()
}

// median returns the median of the values of the first of keys measured
// in unit, and whether there is one.
func (r *results) median(unit string, keys ...string) (float64, bool) {
	for _, k := range keys {
		if vs := r.samples[k][unit]; len(vs) > 0 {
			s := benchmath.NewSample(vs, &benchmath.DefaultThresholds)
			return benchmath.AssumeNothing.Summary(s, 0.95).Center, true
		}
	}
	return 0, false
}

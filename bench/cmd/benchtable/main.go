// Command benchtable runs sagakit's benchmarks and their baselines, each
// pair in the same run, and prints one table: for each comparison,
// sagakit's median, the baseline's and their ratio. It keeps go test's
// output (which benchstat reads too) and plots durable throughput against
// the number of runs at once.
//
// make bench runs it from the bench module:
//
//	go run ./cmd/benchtable [-count 5] [-benchtime 1s] [-out out/raw.txt] [-svg ../docs/bench-throughput.svg]
//
// The benchmarks run one package at a time (go test -p 1), each
// -count times: the in-memory runners (packages saga and parallel),
// durable runs on SQLite and PostgreSQL with their raw-SQL baselines and
// the disk's fsync rate (package durable), and in the bench module
// retries against other retry packages and durable runs against DBOS
// Transact Go, and in the otelsaga module the cost of its hooks. The PostgreSQL ones need SAGAKIT_POSTGRES_DSN; without it
// they skip and the table says so. With -in, it reads an earlier run's
// output instead of running anything.
//
// A benchmark that did not run (missing, skipped or failed) shows as "—".
// When go test fails in a package, the table is printed with what was
// measured and the command exits with status 1.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// suite is one go test command: the packages of a module and the
// benchmarks to run in them.
type suite struct {
	dir   string   // the module's directory, relative to the repository's root
	pkgs  []string // packages, relative to dir
	bench string   // the -bench pattern
}

var suites = []suite{
	{".", []string{"./saga", "./parallel"}, "."},
	{".", []string{"./durable"}, "^Benchmark(Fsync|ThroughputSQLite|ThroughputPostgres|ScaleSteps|ScaleState)$"},
	{"bench", []string{"."}, "^Benchmark(Sagakit|Backoff|Failsafe|Postgres)$/^(FirstTrySuccess|TenAttemptsNoWait|sagakit|sagakit-start|dbos)$"},
	{"otelsaga", []string{"."}, "^BenchmarkStep$/^(none|noop|traces|traces[+]metrics)$"},
}

func main() {
	var o options
	flag.IntVar(&o.count, "count", 5, "runs of each benchmark (go test -count); the table shows medians")
	flag.StringVar(&o.benchtime, "benchtime", "1s", "go test -benchtime")
	flag.StringVar(&o.out, "out", "out/raw.txt", "file to write go test's output to")
	flag.StringVar(&o.in, "in", "", "read this file of go test output instead of running the benchmarks")
	flag.StringVar(&o.svg, "svg", "../docs/bench-throughput.svg", "file to plot throughput to (.svg or .png; empty: no plot)")
	flag.StringVar(&o.root, "root", "..", "the repository's root")
	flag.StringVar(&o.gocmd, "go", "go", "the go command")
	flag.Parse()
	if err := run(o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

type options struct {
	count              int
	benchtime          string
	out, in, svg, root string
	gocmd              string
}

// run runs the suites (unless o.in names their output), then prints the
// table to stdout and draws the plot. go test's output goes to stderr as
// it comes.
func run(o options, stdout, stderr io.Writer) error {
	start := time.Now()
	file, failed := o.in, []string(nil)
	if file == "" {
		if o.count < 1 {
			return fmt.Errorf("-count %d: want at least 1", o.count)
		}
		var err error
		if failed, err = runSuites(o, stderr); err != nil {
			return err
		}
		file = o.out
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	res, err := parse(bytes.NewReader(raw), file)
	if err != nil {
		return err
	}
	lo, hi := res.runs()
	fmt.Fprintf(stdout, "\nsagakit against its baselines, each pair measured in the same run: medians of %s runs.\n", span(lo, hi))
	fmt.Fprintf(stdout, "go test output: %s\n\n", file)
	if err := render(stdout, res, table(), os.Getenv("SAGAKIT_POSTGRES_DSN") == ""); err != nil {
		return err
	}
	if len(res.loads) > 0 {
		fmt.Fprintf(stdout, "\nLoad average (1, 5, 15 min) as each package started: %s.\n", strings.Join(res.loads, "; "))
	}
	if o.in == "" {
		fmt.Fprintf(stdout, "Load average at the end: %s. Took %s.\n", loadavg(), time.Since(start).Round(time.Second))
	}
	if o.svg != "" {
		n, err := plotThroughput(res, o.svg)
		switch {
		case err != nil:
			return err
		case n == 0:
			fmt.Fprintln(stdout, "No throughput measured: no plot.")
		default:
			fmt.Fprintf(stdout, "Plot of throughput (%d series): %s\n", n, o.svg)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("go test failed in %s (see %s)", strings.Join(failed, ", "), file)
	}
	return nil
}

// runSuites runs each suite's go test, one after the other, writing its
// output to o.out and stderr, and returns the packages where go test
// failed.
func runSuites(o options, stderr io.Writer) ([]string, error) {
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(o.out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := io.MultiWriter(f, stderr)
	var failed []string
	for _, s := range suites {
		// A configuration line of the benchmark format: the results
		// that follow carry it.
		fmt.Fprintf(f, "loadavg: %s\n", loadavg())
		args := []string{"test", "-p", "1", "-run", "^$", "-bench", s.bench, "-benchmem",
			"-count", fmt.Sprint(o.count), "-benchtime", o.benchtime}
		cmd := exec.Command(o.gocmd, append(args, s.pkgs...)...)
		cmd.Dir = filepath.Join(o.root, s.dir)
		cmd.Stdout, cmd.Stderr = w, w
		fmt.Fprintf(stderr, "== (cd %s && %s %s)\n", s.dir, o.gocmd, strings.Join(quote(append(args, s.pkgs...)), " "))
		if err := cmd.Run(); err != nil {
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				return nil, err
			}
			failed = append(failed, strings.Join(s.pkgs, " ")+" in "+s.dir)
		}
	}
	return failed, f.Close()
}

// loadavg is the machine's load average over 1, 5 and 15 minutes, or
// "unknown".
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// runs returns the fewest and most values a benchmark has in one unit.
func (r *results) runs() (lo, hi int) {
	for _, units := range r.samples {
		for _, vs := range units {
			if lo == 0 || len(vs) < lo {
				lo = len(vs)
			}
			hi = max(hi, len(vs))
		}
	}
	return lo, hi
}

func span(lo, hi int) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

// quote quotes the arguments a shell would split or expand.
func quote(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if strings.ContainsAny(a, "^$|()*? ") {
			out[i] = "'" + a + "'"
		}
	}
	return out
}

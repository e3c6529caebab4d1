package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/runview"
)

// Exit codes (see the package documentation).
const (
	exitOK       = 0 // done
	exitBadState = 1 // the run is not in a good state for what was asked, or did not end well
	exitUsage    = 2 // bad command line or input
	exitNotFound = 3 // no such run, saga or step
	exitStore    = 4 // the store cannot be opened or reached
)

const exitCodesHelp = `Exit codes:
  0  done
  1  the run is not in a good state: a verb refused for the run's status
     (it has ended, a request is pending) or because the run changed
     since --seen, the request refused by the worker, or with --wait the
     run did not end well
  2  usage: bad flags, arguments or input (an ambiguous run ID prefix too)
  3  not found: no such run, saga or step
  4  store unreachable: missing file, not a journal, bad DSN, server down,
     schema newer than this sagactl`

// exitError is an error with its exit code.
type exitError struct {
	code int
	err  error
	// printed: stdout holds the outcome, which is printed (a --wait
	// whose run did not end well); otherwise nothing goes to stdout.
	printed bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// fail returns an error exiting with code.
func fail(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// env is what a run of sagactl sees of its process.
type env struct {
	stdout, stderr       io.Writer
	getenv               func(string) string
	stdoutTTY, stderrTTY bool
}

// app holds the global flags and the open store of one invocation.
type app struct {
	env
	storeSpec string
	schema    string
	asJSON    bool
	color     string
	nowFlag   string

	store    journal.Store
	closeFn  func() error
	describe string // the store, as errors name it (no password)
}

// run runs sagactl with args and returns its exit code. Errors are one
// line on stderr; on an error nothing is written to stdout.
func run(ctx context.Context, args []string, e env) int {
	a := &app{env: e}
	root := a.rootCommand()
	root.SetArgs(args)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if a.closeFn != nil {
		_ = a.closeFn()
	}
	if err != nil {
		code := exitUsage // cobra's own errors: unknown commands and flags
		var xe *exitError
		if errors.As(err, &xe) {
			code = xe.code
			if xe.printed {
				_, _ = e.stdout.Write(out.Bytes())
			}
		}
		msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", " ")
		fmt.Fprintln(e.stderr, "sagactl: "+msg)
		if code == exitUsage && !errors.As(err, &xe) {
			fmt.Fprintln(e.stderr, "Run 'sagactl --help' for usage.")
		}
		return code
	}
	_, _ = e.stdout.Write(out.Bytes())
	return exitOK
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "sagactl",
		Short: "See, draw and operate durable saga runs",
		Long: `sagactl reads the journal of durable sagakit runs, in a SQLite file or a
PostgreSQL database, to list runs, inspect one, draw its graph and timeline,
and record operator requests (resume, retry, compensate, resolve, abandon)
that the next worker carries out. It never runs saga code.

The store is --store, or the SAGAKIT_STORE environment variable:
  sqlite:PATH             a SQLite journal file (it must exist)
  postgres://USER@HOST/DB a PostgreSQL database (schema: --schema)

Every command prints JSON with --json (field names are stable: see
'go doc github.com/sagakit/sagakit/runview'). Colors only on a terminal, and
never with NO_COLOR set.

` + exitCodesHelp,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			switch a.color {
			case "auto", "always", "never":
			default:
				return fail(exitUsage, "--color must be auto, always or never, not %q", a.color)
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fail(exitUsage, "%v", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&a.storeSpec, "store", "", "the journal: sqlite:PATH or postgres://… (default $SAGAKIT_STORE)")
	pf.StringVar(&a.schema, "schema", "", "the PostgreSQL schema of the journal (default $SAGAKIT_SCHEMA, or sagakit)")
	pf.BoolVar(&a.asJSON, "json", false, "print JSON")
	pf.StringVar(&a.color, "color", "auto", "color: auto (on a terminal, without NO_COLOR), always or never")
	pf.StringVar(&a.nowFlag, "now", "", "the time ages are measured to (RFC 3339), for reproducible output")
	_ = pf.MarkHidden("now")
	root.AddCommand(a.listCommand(), a.inspectCommand(), a.graphCommand(), a.timelineCommand())
	for _, v := range verbs {
		root.AddCommand(a.verbCommand(v))
	}
	root.AddCommand(a.signalCommand())
	root.AddCommand(a.serveCommand())
	return root
}

// args checks a command's positional arguments, as a usage error.
func args(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fail(exitUsage, "%s takes %s (got %d argument(s)); see 'sagactl %s --help'", cmd.Name(), names, len(args), cmd.Name())
		}
		return nil
	}
}

// now is the time ages are measured to.
func (a *app) now() (time.Time, error) {
	if a.nowFlag == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, a.nowFlag)
	if err != nil {
		return time.Time{}, fail(exitUsage, "--now: want an RFC 3339 time, such as 2026-03-14T09:30:00Z")
	}
	return t, nil
}

// colors reports whether to color what goes to stdout.
func (a *app) colors() bool {
	switch a.color {
	case "always":
		return true
	case "never":
		return false
	}
	return a.stdoutTTY && a.getenv("NO_COLOR") == "" && a.getenv("TERM") != "dumb"
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// findRun resolves a run ID or a unique prefix of one.
func (a *app) findRun(ctx context.Context, id string) (string, error) {
	full, err := runview.Find(ctx, a.store, id)
	var amb *runview.AmbiguousError
	switch {
	case err == nil:
		return full, nil
	case errors.As(err, &amb):
		return "", fail(exitUsage, "%v: give more of the ID", amb)
	case errors.Is(err, journal.ErrNotFound):
		return "", fail(exitNotFound, "no run %q in %s", id, a.describe)
	}
	return "", a.storeError(err)
}

// storeError classifies an error of a store call.
func (a *app) storeError(err error) error {
	var xe *exitError
	switch {
	case errors.As(err, &xe):
		return err
	case errors.Is(err, journal.ErrNotFound):
		return &exitError{code: exitNotFound, err: err}
	case errors.Is(err, context.Canceled):
		return &exitError{code: exitBadState, err: errors.New("interrupted")}
	}
	return &exitError{code: exitStore, err: fmt.Errorf("%s: %w", a.describe, err)}
}

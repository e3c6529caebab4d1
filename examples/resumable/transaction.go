package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
)

// Transaction is the saga state: the seed's arguments, and the value
// read_file_contents returns, which the seed stores with
// _return='some_name_to_store' for print_incoming_data.
type Transaction struct {
	FileName        string `json:"file_name"` // in the work directory
	Data            string `json:"data"`
	SomeNameToStore string `json:"some_name_to_store"` // set by read_file_contents
}

// journalFile is the journal's name in the work directory: the seed's
// /tmp/transaction.json.
const journalFile = "transactions.db"

// fileName is the seed's /tmp/our_test_file, in the work directory.
const fileName = "our_test_file"

// newSaga defines the seed's transaction. Its steps work in root and
// print to w. No step can be undone (the seed does not revert anything):
// on a failure the run pauses for a person to fix the cause.
func newSaga(root *os.Root, w io.Writer) *saga.Saga[Transaction] {
	return saga.New[Transaction]().
		Name("resumable_transaction").
		Step("create_and_write_file_in_tmp", func(_ context.Context, t *Transaction) error {
			// Create the file if it does not exist, fail if it does.
			f, err := root.OpenFile(t.FileName, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			_, err = f.WriteString(t.Data)
			return errors.Join(err, f.Close())
		}, nil).
		Step("read_file_contents", func(_ context.Context, t *Transaction) error {
			b, err := root.ReadFile(t.FileName)
			t.SomeNameToStore = string(b)
			return err
		}, nil).
		Step("print_incoming_data", func(_ context.Context, t *Transaction) error {
			_, err := fmt.Fprintln(w, t.SomeNameToStore)
			return err
		}, nil).
		Build()
}

// workspace is a work directory with its journal, and an engine that runs
// the transaction there, pausing it on failure.
type workspace struct {
	w      io.Writer
	root   *os.Root
	store  *sqlite.Store
	engine *durable.Engine
	def    *durable.Definition[Transaction]
}

// open opens the workspace in dir, creating dir and the journal if
// needed.
func open(ctx context.Context, w io.Writer, dir string) (*workspace, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, journalFile))
	if err != nil {
		root.Close()
		return nil, err
	}
	engine := durable.NewEngine(store)
	def, err := durable.Register(engine, newSaga(root, w), durable.PauseOnFailure())
	if err != nil {
		store.Close()
		root.Close()
		return nil, err
	}
	return &workspace{w: w, root: root, store: store, engine: engine, def: def}, nil
}

func (ws *workspace) Close() error {
	return errors.Join(ws.store.Close(), ws.root.Close())
}

// runID names the seed's nth transaction.
func runID(n int) string { return fmt.Sprintf("transaction-%d", n) }

// run is the seed's test.py: two transactions that each create the file;
// the second finds it there, fails, and pauses.
func (ws *workspace) run(ctx context.Context) error {
	switch _, _, err := ws.store.Load(ctx, runID(1)); {
	case err == nil:
		return fmt.Errorf("%s is in the journal already: run in a new directory", runID(1))
	case !errors.Is(err, journal.ErrNotFound):
		return err
	}
	for n := 1; n <= 2; n++ {
		t := Transaction{FileName: fileName, Data: fmt.Sprintf("Hello World, the %d. time", n)}
		rep, err := ws.def.Run(saga.WithRunID(ctx, runID(n)), &t)
		if rep.Status != saga.StatusPaused && err != nil {
			return err
		}
		fmt.Fprintf(ws.w, "%s: %s\n", rep.RunID, rep.Status)
		if err != nil {
			fmt.Fprintf(ws.w, "Transaction failed: %v\nIt was stored in %s and can be inspected and resumed later.\n", err, journalFile)
		}
	}
	return nil
}

// inspect prints what the journal knows of a run: its status, error,
// times and steps (the report), and its state.
func (ws *workspace) inspect(ctx context.Context, id string) error {
	v, err := durable.Inspect(ctx, ws.store, id)
	if err != nil {
		return err
	}
	// The journal names only the steps that started; the definition
	// knows the others, still pending.
	plan := ws.def.Saga().Plan()
	for _, i := range plan.Order() {
		if _, ok := v.Report.Step(plan.Decl(i).Name); !ok {
			v.Report.Steps = append(v.Report.Steps, saga.StepReport{Name: plan.Decl(i).Name})
		}
	}
	fmt.Fprint(ws.w, v.Report)
	fmt.Fprintf(ws.w, "\nstate:    %s\n", v.State)
	return nil
}

// resume carries a paused run on from its failed step.
func (ws *workspace) resume(ctx context.Context, id string) error {
	rep, err := ws.engine.Resume(ctx, id, "resumed by hand")
	if rep != nil {
		fmt.Fprintf(ws.w, "%s: %s\n", rep.RunID, rep.Status)
	}
	return err
}

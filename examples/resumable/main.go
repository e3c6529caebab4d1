// Command resumable ports the story of resumable_transaction: a
// transaction that pauses at its failure, is stored to disk, inspected,
// and resumed once a person has fixed the cause.
//
// The transaction has three steps: create_and_write_file_in_tmp creates a
// file (failing if it exists), read_file_contents reads it into the state
// (the seed's _return='some_name_to_store'), and print_incoming_data
// prints it. It is registered with [durable.PauseOnFailure] on a SQLite
// journal, so a failed run stops with status paused instead of
// compensating. The first transaction succeeds; the second finds the
// file there, fails, and pauses. After the file is removed,
// [durable.Engine.Resume] runs the failed step again, then the rest.
//
// Without arguments the program tells the whole story in a temporary
// directory. To play it by hand, across processes, as with the seed:
//
//	resumable run DIR             # both transactions; the second pauses
//	resumable inspect DIR RUN-ID  # what the journal knows of a run
//	rm DIR/our_test_file
//	resumable resume DIR RUN-ID   # Hello World, the 2. time
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

const usage = `usage:
  resumable                      tell the whole story in a temporary directory
  resumable run DIR              run the two transactions in DIR
  resumable inspect DIR RUN-ID   show a run's journal
  resumable resume DIR RUN-ID    resume a paused run`

// story runs the transactions in dir, inspects the paused one, fixes the
// cause and resumes it.
func story(ctx context.Context, w io.Writer, dir string) error {
	ws, err := open(ctx, w, dir)
	if err != nil {
		return err
	}
	defer ws.Close()

	fmt.Fprintln(w, "# Two transactions; the second one fails and pauses.")
	if err := ws.run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n# Inspect %s.\n", runID(2))
	if err := ws.inspect(ctx, runID(2)); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n# Remove %s and resume %s.\n", fileName, runID(2))
	if err := ws.root.Remove(fileName); err != nil {
		return err
	}
	return ws.resume(ctx, runID(2))
}

// command runs a subcommand: run, inspect or resume.
func command(ctx context.Context, w io.Writer, args []string) error {
	var id string
	switch {
	case len(args) == 2 && args[0] == "run":
	case len(args) == 3 && (args[0] == "inspect" || args[0] == "resume"):
		id = args[2]
	default:
		return errors.New(usage)
	}
	ws, err := open(ctx, w, args[1])
	if err != nil {
		return err
	}
	switch args[0] {
	case "run":
		err = ws.run(ctx)
	case "inspect":
		err = ws.inspect(ctx, id)
	case "resume":
		err = ws.resume(ctx, id)
	}
	return errors.Join(err, ws.Close())
}

func main() {
	ctx := context.Background()
	var err error
	if len(os.Args) > 1 {
		err = command(ctx, os.Stdout, os.Args[1:])
	} else {
		var dir string
		if dir, err = os.MkdirTemp("", "resumable-"); err == nil {
			err = story(ctx, os.Stdout, dir)
			os.RemoveAll(dir)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "resumable:", err)
		os.Exit(1)
	}
}

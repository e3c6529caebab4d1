package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func TestStory(t *testing.T) {
	is := is.New(t)
	var buf bytes.Buffer
	is.NoErr(story(t.Context(), &buf, t.TempDir()))
	out := buf.String()

	inOrder(t, out,
		"Hello World, the 1. time",
		"transaction-1: succeeded",
		"transaction-2: paused",
		`Transaction failed: saga "resumable_transaction": step "create_and_write_file_in_tmp" failed: openat our_test_file: file exists (paused)`,
		"It was stored in transactions.db and can be inspected and resumed later.",
		"# Inspect transaction-2.",
		`saga "resumable_transaction" run transaction-2 paused in `,
		`error:    saga "resumable_transaction": step "create_and_write_file_in_tmp" failed: openat our_test_file: file exists (paused)`,
		"started:  ",
		"ended:    ",
		`state:    {"file_name":"our_test_file","data":"Hello World, the 2. time","some_name_to_store":""}`,
		"# Remove our_test_file and resume transaction-2.",
		"Hello World, the 2. time",
		"transaction-2: succeeded",
	)
	is.Equal(strings.Count(out, "Hello World, the 1. time"), 1)
	is.Equal(strings.Count(out, "Hello World, the 2. time\n"), 1) // printed once, by the resumed run

	failed := row(t, out, "create_and_write_file_in_tmp")
	is.Equal(failed[:3], []string{"create_and_write_file_in_tmp", "failed", "1"})
	is.Equal(strings.Join(failed[5:], " "), "openat our_test_file: file exists -")
	is.Equal(row(t, out, "read_file_contents"), []string{"read_file_contents", "pending", "0", "-", "-", "-", "-"})
	is.Equal(row(t, out, "print_incoming_data"), []string{"print_incoming_data", "pending", "0", "-", "-", "-", "-"})
}

// TestByHand plays the story with the subcommands, each opening the
// journal afresh, as separate processes would.
func TestByHand(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	cmd := func(args ...string) (string, error) {
		var buf bytes.Buffer
		err := command(t.Context(), &buf, args)
		return buf.String(), err
	}

	out, err := cmd("run", dir)
	is.NoErr(err)
	inOrder(t, out, "Hello World, the 1. time", "transaction-1: succeeded", "transaction-2: paused")

	out, err = cmd("inspect", dir, "transaction-2")
	is.NoErr(err)
	inOrder(t, out, `run transaction-2 paused in`, `"data":"Hello World, the 2. time"`)

	_, err = cmd("resume", dir, "transaction-2") // the file is still there
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "file exists"))

	is.NoErr(os.Remove(filepath.Join(dir, fileName)))
	out, err = cmd("resume", dir, "transaction-2")
	is.NoErr(err)
	is.Equal(out, "Hello World, the 2. time\ntransaction-2: succeeded\n")

	out, err = cmd("inspect", dir, "transaction-2")
	is.NoErr(err)
	is.Equal(row(t, out, "print_incoming_data")[:3], []string{"print_incoming_data", "succeeded", "1"})
	is.True(strings.Contains(out, `"some_name_to_store":"Hello World, the 2. time"`))

	_, err = cmd("run", dir) // the transactions are there already
	is.True(err != nil)
	_, err = cmd("resume", dir)
	is.Equal(err.Error(), usage)
}

// inOrder fails unless out contains each of lines, in that order.
func inOrder(t *testing.T, out string, lines ...string) {
	t.Helper()
	rest := out
	for _, l := range lines {
		i := strings.Index(rest, l)
		if i < 0 {
			t.Fatalf("missing, or out of order: %q\noutput:\n%s", l, out)
		}
		rest = rest[i+len(l):]
	}
}

// row returns the fields of the report table's row for step.
func row(t *testing.T, out, step string) []string {
	t.Helper()
	_, table, ok := strings.Cut(out, "\nSTEP ")
	if !ok {
		t.Fatalf("no report table in:\n%s", out)
	}
	for l := range strings.Lines(table) {
		if f := strings.Fields(l); len(f) > 0 && f[0] == step {
			return f
		}
	}
	t.Fatalf("no row for step %q in:\n%s", step, out)
	return nil
}

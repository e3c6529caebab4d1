package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/internal/exampletest"
)

func TestStory(t *testing.T) {
	is := is.New(t)
	var buf bytes.Buffer
	is.NoErr(story(t.Context(), &buf, t.TempDir()))
	out := buf.String()

	exampletest.InOrder(t, out,
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

	failed := exampletest.Row(t, out, "create_and_write_file_in_tmp")
	is.Equal(failed[:3], []string{"create_and_write_file_in_tmp", "failed", "1"})
	is.Equal(strings.Join(failed[5:], " "), "openat our_test_file: file exists -")
	is.Equal(exampletest.Row(t, out, "read_file_contents"), []string{"read_file_contents", "pending", "0", "-", "-", "-", "-"})
	is.Equal(exampletest.Row(t, out, "print_incoming_data"), []string{"print_incoming_data", "pending", "0", "-", "-", "-", "-"})
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
	exampletest.InOrder(t, out, "Hello World, the 1. time", "transaction-1: succeeded", "transaction-2: paused")

	out, err = cmd("inspect", dir, "transaction-2")
	is.NoErr(err)
	exampletest.InOrder(t, out, `run transaction-2 paused in`, `"data":"Hello World, the 2. time"`)

	_, err = cmd("resume", dir, "transaction-2") // the file is still there
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "file exists"))

	is.NoErr(os.Remove(filepath.Join(dir, fileName)))
	out, err = cmd("resume", dir, "transaction-2")
	is.NoErr(err)
	is.Equal(out, "Hello World, the 2. time\ntransaction-2: succeeded\n")

	out, err = cmd("inspect", dir, "transaction-2")
	is.NoErr(err)
	is.Equal(exampletest.Row(t, out, "print_incoming_data")[:3], []string{"print_incoming_data", "succeeded", "1"})
	is.True(strings.Contains(out, `"some_name_to_store":"Hello World, the 2. time"`))

	_, err = cmd("run", dir) // the transactions are there already
	is.True(err != nil)
	_, err = cmd("resume", dir)
	is.Equal(err.Error(), usage)
}

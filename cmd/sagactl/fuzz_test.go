package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzArgs runs sagactl, in the test's process, with any command line on
// a copy of the shop's journal (arguments are the fuzz string split at
// NUL bytes): it never panics, exits 0 to 4, says why on stderr when it
// fails, and then prints nothing on stdout (but with --wait, which
// prints the run's outcome). Its seeds are below and in testdata/fuzz;
//
//	go test -run '^$' -fuzz FuzzArgs -fuzztime 45s ./cmd/sagactl
//
// looks for more. Command lines naming a store of their own are skipped,
// so that no input reaches a server or another file.
func FuzzArgs(f *testing.F) {
	for _, args := range [][]string{
		{"list"}, {"list", "--json"}, {"list", "--status", "paused,failed", "--saga", "order", "--limit", "2"},
		{"list", "--since", "2026-03-14T09:00:00Z"}, {"list", "--status", "done"},
		{"inspect", "order-1002"}, {"inspect", "order-100"}, {"inspect", "trip-2001", "--entries", "--json"},
		{"inspect"}, {"inspect", "nope"}, {"graph", "order"}, {"graph", "trip-2001", "--format", "dot"},
		{"graph", "order", "--format", "png"}, {"timeline", "trip-2001", "--width", "80"},
		{"timeline", "trip-2001", "--format", "mermaid"}, {"timeline", "payment-4001", "--json"},
		{"timeline", "order", "--width", "-1"},
		{"resume", "transfer-3001", "--note", "fixed"}, {"retry", "transfer-3001", "credit", "--note", "x"},
		{"retry", "transfer-3001", "wire"}, {"compensate", "transfer-3001"},
		{"resolve", "transfer-3001"}, {"resolve", "transfer-3001", "--note", "done by hand", "--json"},
		{"abandon", "order-1002", "--note", "x"}, {"resume", "order-1001"},
		{"resume", "transfer-3001", "--wait", "--timeout", "10ms"}, {"resume", "transfer-3001", "--timeout", "-1s"},
		{"signal", "payment-4001", "payment-confirmed", "--data", `{"amount":12}`, "--delivery", "d-1"},
		{"signal", "payment-4001", "payment-confirmed", "--data", "{oops"}, {"signal", "order-1001", "x"},
		{"--color", "always", "list"}, {"--color", "sometimes", "list"}, {"--now", "2026-03-14T10:00:00Z", "list"},
		{"--now", "yesterday", "list"}, {"frobnicate"}, {"list", "--frobnicate"}, {"--help"}, {"list", "--help"},
		{}, {""}, {"--"}, {"inspect", "--", "-x"}, {"help", "resume"}, {"completion"},
	} {
		f.Add(strings.Join(args, "\x00"))
	}
	f.Fuzz(func(t *testing.T, line string) {
		lower := strings.ToLower(line)
		if strings.Contains(lower, "postgres") || strings.Contains(lower, "sqlite:") || strings.Contains(lower, "store") {
			t.Skip("names a store of its own")
		}
		args := strings.Split(line, "\x00")
		if line == "" {
			args = nil
		}
		dir, err := os.MkdirTemp("", "sagactl-fuzz-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		journal := filepath.Join(dir, "shop.db")
		data, err := os.ReadFile(strings.TrimPrefix(shopJournal(t), "--store=sqlite:"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(journal, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond) // ends a --wait
		defer cancel()
		var stdout, stderr bytes.Buffer
		code := run(ctx, args, env{
			stdout: &stdout, stderr: &stderr,
			getenv: func(k string) string {
				if k == "SAGAKIT_STORE" {
					return "sqlite:" + journal
				}
				return ""
			},
		})
		switch {
		case code < 0 || code > 4:
			t.Fatalf("sagactl %q: exit code %d", args, code)
		case code != 0 && !strings.HasPrefix(stderr.String(), "sagactl: "):
			t.Fatalf("sagactl %q: exit %d, and stderr does not say why: %q", args, code, stderr.String())
		case code != 0 && stdout.Len() > 0 && !strings.Contains(line, "--wait"):
			t.Fatalf("sagactl %q: exit %d, and something on stdout: %q", args, code, stdout.String())
		}
	})
}

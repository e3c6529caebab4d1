package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/sagakit/sagakit/journal/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// binary is sagactl, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "sagactl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sagactl")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sagactl:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	// goleak checks, after the tests and before the exit, that they
	// left no goroutine running (the in-process runs of FuzzArgs).
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// result is what a run of sagactl did.
type result struct {
	code           int
	stdout, stderr string
}

// sagactl runs the binary with args, SAGAKIT_STORE unset unless env sets
// it, and no color unless asked.
func sagactl(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		code = xe.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// cleanEnv is the test's environment without sagactl's variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SAGAKIT_STORE=") && !strings.HasPrefix(kv, "SAGAKIT_SCHEMA=") && !strings.HasPrefix(kv, "NO_COLOR=") {
			env = append(env, kv)
		}
	}
	return env
}

// ok runs sagactl and fails the test unless it exits 0.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := sagactl(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("sagactl %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("testdata/%s differs (-want +got):\n%s", name, d)
	}
}

var (
	shopOnce sync.Once
	shopPath string
	shopErr  error
)

// shopJournal returns a SQLite journal, made once, holding the runs of
// (*shop).runs with their times rewritten; tests only read it.
func shopJournal(t *testing.T) string {
	t.Helper()
	shopOnce.Do(func() {
		shopPath = filepath.Join(filepath.Dir(binary), "shop.db") // removed with the binary
		store, err := sqlite.Open(context.Background(), shopPath)
		if err != nil {
			shopErr = err
			return
		}
		newShop(t, store).runs(t)
		if err := store.Close(); err != nil {
			shopErr = err
			return
		}
		rewriteTimes(t, shopPath)
	})
	if shopErr != nil {
		t.Fatal(shopErr)
	}
	return "--store=sqlite:" + shopPath
}

// freshJournal returns a new SQLite journal with the shop's runs, its
// path, and the open store, for tests that change it.
func freshJournal(t *testing.T) (string, *shop, *sqlite.Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shop.db")
	store, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := newShop(t, store)
	s.runs(t)
	return path, s, store
}

// openRaw opens a SQLite file without the store.
func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

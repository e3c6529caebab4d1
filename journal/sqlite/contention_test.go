package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// openers is how many goroutines, or processes, open each new file at once.
const openers = 8

// useNewStore opens the store at path, checks that it works with a run
// of its own, and closes it.
func useNewStore(ctx context.Context, path, id string) error {
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	err = s.Create(ctx, journal.Run{ID: id, Saga: "s", Status: journal.Running},
		journal.Entry{Kind: journal.RunStarted})
	if err == nil {
		var run journal.Run
		var es []journal.Entry
		run, es, err = s.Load(ctx, id)
		if err == nil && (run.ID != id || len(es) != 1) {
			err = fmt.Errorf("loaded run %q with %d entries, want %q with 1", run.ID, len(es), id)
		}
	}
	return errors.Join(err, s.Close())
}

// lockNewFile creates the file at path, in rollback mode as SQLite
// creates files, and holds its write lock (SQLite's RESERVED lock) until
// the returned function is called.
func lockNewFile(t *testing.T, path string) (unlock func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(t.Context())
	if err == nil {
		_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	}
	if err != nil {
		_ = db.Close()
		t.Fatal(err)
	}
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
			_ = conn.Close()
			_ = db.Close()
		})
	}
	t.Cleanup(unlock)
	return unlock
}

// TestOpenWaitsForWALSwitch opens a new file whose write lock another
// connection holds. Switching the file to WAL takes a read lock, then
// the write lock, and SQLite fails that second request at once, without
// calling the busy handler (so that two connections holding the read lock
// cannot wait for each other): Open must try again until the lock is
// free, as it would have waited had the busy handler been called.
func TestOpenWaitsForWALSwitch(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	unlock := lockNewFile(t, path)
	const hold = 100 * time.Millisecond
	start := time.Now()
	time.AfterFunc(hold, unlock)
	err := useNewStore(t.Context(), path, "r")
	is.NoErr(err)
	is.True(time.Since(start) >= hold) // Open waited for the lock
}

// TestOpenGivesUp checks that Open stops trying once the busy timeout has
// passed, or once its context has ended: it returns (rather than hang
// while the lock is held) with SQLITE_BUSY, and with the context's error.
func TestOpenGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration // of the context; 0 for none
		busy    time.Duration
		want    error
	}{
		{"busy timeout", 0, 100 * time.Millisecond, nil},
		{"context", 100 * time.Millisecond, time.Minute, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			lockNewFile(t, path)
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			start := time.Now()
			_, err := sqlite.Open(ctx, path, sqlite.WithBusyTimeout(tc.busy))
			took := time.Since(start)
			var e *driver.Error
			busy := errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
			switch {
			case tc.want == nil && !busy:
				t.Fatalf("got %v, want SQLITE_BUSY", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %v, want %v", err, tc.want)
			case !busy:
				// The context ended before Open first found the file
				// locked (a loaded machine): it gave up all the same.
				t.Logf("Open gave up before it met the lock: %v", err)
			}
			t.Logf("Open gave up after %v", took) // a measure, not a check: timings are for benchmarks
		})
	}
}

// TestConcurrentOpenNewFile has goroutines open the same new file at once,
// round after round: however they interleave in switching the file to
// WAL and creating the schema, each Open must succeed. Rounds run a few
// at a time, each on its own file: the load makes the openers interleave
// in more ways.
func TestConcurrentOpenNewFile(t *testing.T) {
	t.Parallel() // with the processes' test, which mostly waits
	rounds := 40
	if raceEnabled {
		rounds = 8
	}
	ctx := t.Context()
	dir := t.TempDir()
	var failures sync.Map
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for r := range rounds {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			path := filepath.Join(dir, fmt.Sprintf("%d.db", r))
			start := make(chan struct{})
			var round sync.WaitGroup
			for i := range openers {
				round.Go(func() {
					<-start
					if err := useNewStore(ctx, path, fmt.Sprint(i)); err != nil {
						failures.Store(fmt.Sprintf("round %d, opener %d", r, i), err)
					}
				})
			}
			close(start)
			round.Wait()
		})
	}
	wg.Wait()
	failures.Range(func(k, v any) bool {
		t.Errorf("%s: %v", k, v)
		return true
	})
}

// openChildEnv carries, to a TestOpenChild process, the directory of the
// rounds' files, their number and the child's ID, separated by '|'.
const openChildEnv = "SAGAKIT_SQLITE_OPEN_CHILD"

// childReady is the line a child writes when it is ready to open the
// round's file; it does when it reads a byte.
const childReady = "sqlite-open-child: ready"

// TestConcurrentOpenNewFileProcesses is TestConcurrentOpenNewFile with
// processes, as when workers start together on a fresh journal: each
// round, the children open a new file, all at once.
func TestConcurrentOpenNewFileProcesses(t *testing.T) {
	if os.Getenv(openChildEnv) != "" {
		t.Skip("runs in the parent process only")
	}
	t.Parallel()
	rounds := 15
	if raceEnabled {
		rounds = 10
	}
	dir := t.TempDir()
	type child struct {
		cmd    *exec.Cmd
		start  io.WriteCloser
		lines  *bufio.Scanner
		out    strings.Builder // stdout but the ready lines
		stderr strings.Builder
	}
	children := make([]*child, openers)
	for i := range children {
		c := &child{cmd: exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestOpenChild$", "-test.count=1")}
		c.cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d|%d", openChildEnv, dir, rounds, i),
			// Under the race detector, a process waits a second before
			// it exits, unless told not to.
			"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
		c.cmd.Stderr = &c.stderr
		stdout, err := c.cmd.StdoutPipe()
		if err == nil {
			c.start, err = c.cmd.StdinPipe()
		}
		if err == nil {
			err = c.cmd.Start()
		}
		if err != nil {
			t.Fatal(err)
		}
		c.lines = bufio.NewScanner(stdout)
		children[i] = c
	}
	// ready reads c's output up to its next ready line; it reports whether
	// there was one.
	ready := func(c *child) bool {
		for c.lines.Scan() {
			if c.lines.Text() == childReady {
				return true
			}
			fmt.Fprintln(&c.out, c.lines.Text())
		}
		return false
	}
rounds:
	for range rounds {
		for _, c := range children {
			if !ready(c) {
				break rounds // it failed; Wait says how
			}
		}
		for _, c := range children {
			_, _ = c.start.Write([]byte{'\n'})
		}
	}
	for i, c := range children {
		_ = c.start.Close()
		for ready(c) {
		}
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s%s", i, err, c.out.String(), c.stderr.String())
		}
	}
}

// TestOpenChild is a child process of TestConcurrentOpenNewFileProcesses,
// and runs only as one. Each round, it says it is ready, waits for the
// word to go, then opens and uses the round's new file.
func TestOpenChild(t *testing.T) {
	env := os.Getenv(openChildEnv)
	if env == "" {
		t.Skip("runs only as a child process of TestConcurrentOpenNewFileProcesses")
	}
	parts := strings.Split(env, "|")
	if len(parts) != 3 {
		t.Fatalf("child: bad %s %q", openChildEnv, env)
	}
	dir, id := parts[0], parts[2]
	rounds, err := strconv.Atoi(parts[1])
	if err != nil {
		t.Fatalf("child: bad %s %q: %v", openChildEnv, env, err)
	}
	start := bufio.NewReader(os.Stdin)
	for r := range rounds {
		fmt.Println(childReady)
		if _, err := start.ReadByte(); err != nil {
			t.Fatalf("child %s: waiting for round %d: %v", id, r, err)
		}
		if err := useNewStore(t.Context(), filepath.Join(dir, fmt.Sprintf("%d.db", r)), id); err != nil {
			t.Errorf("child %s, round %d: %v", id, r, err)
		}
	}
}

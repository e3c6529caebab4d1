package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/journaltest"
	"github.com/sagakit/sagakit/journal/sqlite"
)

func open(t *testing.T, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	journaltest.Run(t, func(t *testing.T, now func() time.Time) journal.Store {
		return open(t, filepath.Join(t.TempDir(), "journal.db"), sqlite.WithClock(now))
	})
}

func TestConformanceNoGroupCommit(t *testing.T) {
	journaltest.Run(t, func(t *testing.T, now func() time.Time) journal.Store {
		return open(t, filepath.Join(t.TempDir(), "journal.db"), sqlite.WithClock(now), sqlite.WithBatchSize(1))
	})
}

func TestPersistence(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "journal.db")
	at := time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.UTC)
	clock := func() time.Time { return at }

	s := open(t, path, sqlite.WithClock(clock))
	run := journal.Run{ID: "r1", Saga: "order", Fingerprint: "fp", Status: journal.Running,
		State: []byte(`{"a":1}`), LeaseOwner: "w1", LeaseExpiry: at.Add(time.Hour)}
	is.NoErr(s.Create(ctx, run, journal.Entry{Kind: journal.RunStarted, At: at.Add(-1)}))
	is.NoErr(s.Append(ctx, "r1", "w1", journal.Update{Status: journal.Paused},
		journal.Entry{Kind: journal.StepFailed, Step: "charge", Attempt: 2, Attempts: 3, Error: "declined"}))
	is.NoErr(s.Close())

	s = open(t, path, sqlite.WithClock(clock))
	defer s.Close()
	got, es, err := s.Load(ctx, "r1")
	is.NoErr(err)
	want := run
	want.Status, want.Created, want.Updated, want.LeaseToken = journal.Paused, at, at, 1
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("run after reopening (-want +got):\n%s", d)
	}
	wantEs := []journal.Entry{
		{Seq: 1, Kind: journal.RunStarted, At: at.Add(-1)},
		{Seq: 2, Kind: journal.StepFailed, Step: "charge", Attempt: 2, Attempts: 3, Error: "declined", At: at},
	}
	if d := cmp.Diff(wantEs, es, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("entries after reopening (-want +got):\n%s", d)
	}
	is.Equal(es[0].At.Location(), time.UTC)
	is.NoErr(s.Append(ctx, "r1", "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted}))
	_, es, err = s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(es[2].Seq, int64(3)) // numbering goes on
}

// queueAppends stalls the writer, has n goroutines each queue one
// Append of run i by owner(i), resumes the writer and returns the errors.
func queueAppends(t *testing.T, s *sqlite.Store, n int, owner func(i int) string) []error {
	t.Helper()
	ctx := t.Context()
	for i := range n {
		if err := s.Create(ctx, journal.Run{ID: fmt.Sprint(i), Status: journal.Running,
			LeaseOwner: "w", LeaseExpiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	resume := s.Stall()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Append(ctx, fmt.Sprint(i), owner(i), journal.Update{State: []byte("x")},
				journal.Entry{Kind: journal.StepSucceeded, Step: "a"}, journal.Entry{Kind: journal.StepStarted, Step: "b"})
		})
	}
	s.AwaitQueued(n)
	resume()
	wg.Wait()
	return errs
}

// TestGroupCommit checks that writes queued together commit together, up
// to the batch size.
func TestGroupCommit(t *testing.T) {
	for _, tc := range []struct {
		batch, ops int
		commits    int64
	}{
		{256, 100, 1}, // the stall's transaction takes the 100 appends
		{8, 20, 3},    // the stall and 7 appends, 8, then 5
		{1, 5, 6},     // the stall alone, then one by one
	} {
		t.Run(fmt.Sprintf("batch%d", tc.batch), func(t *testing.T) {
			is := is.New(t)
			s := open(t, filepath.Join(t.TempDir(), "journal.db"), sqlite.WithBatchSize(tc.batch))
			defer s.Close()
			c0, o0 := s.Commits()
			for _, err := range queueAppends(t, s, tc.ops, func(int) string { return "w" }) {
				is.NoErr(err)
			}
			c1, o1 := s.Commits()
			n := int64(tc.ops)
			is.Equal(o1-o0, 2*n+1)        // the creates, the stall, the appends
			is.Equal(c1-c0, n+tc.commits) // the creates one by one, then the stall and the appends in batches
		})
	}
}

// TestBatchIsolation checks that an op failing its lease check fails
// alone: the others in its batch commit.
func TestBatchIsolation(t *testing.T) {
	is := is.New(t)
	s := open(t, filepath.Join(t.TempDir(), "journal.db"))
	defer s.Close()
	const n = 40
	c0, _ := s.Commits()
	errs := queueAppends(t, s, n, func(i int) string {
		if i%3 == 0 {
			return "thief"
		}
		return "w"
	})
	c1, _ := s.Commits()
	is.Equal(c1-c0, int64(n+1)) // the creates, then the stall and the appends in one transaction
	for i, err := range errs {
		r, es, lerr := s.Load(t.Context(), fmt.Sprint(i))
		is.NoErr(lerr)
		if i%3 == 0 {
			is.True(errors.Is(err, journal.ErrLeaseLost))
			is.Equal(len(es), 0)
			is.Equal(len(r.State), 0)
		} else {
			is.NoErr(err)
			is.Equal(len(es), 2)
			is.Equal(string(r.State), "x")
		}
	}
}

func TestBadInput(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "journal.db"))
	defer s.Close()
	future := time.Now().Add(time.Hour)
	tooLate := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.Create(ctx, journal.Run{ID: "r", Status: journal.Running, LeaseOwner: "w", LeaseExpiry: future}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		err        error
	}{
		{"Create empty ID", "empty run ID", s.Create(ctx, journal.Run{Status: journal.Running})},
		{"Create time out of range", "out of range", s.Create(ctx, journal.Run{ID: "x"}, journal.Entry{At: tooLate})},
		{"Append empty ID", "empty run ID", s.Append(ctx, "", "w", journal.Update{})},
		{"Append empty owner", "empty lease owner", s.Append(ctx, "r", "", journal.Update{})},
		{"Append time out of range", "out of range", s.Append(ctx, "r", "w", journal.Update{}, journal.Entry{At: tooLate})},
		{"Renew empty owner", "empty lease owner", s.Renew(ctx, "r", "", time.Minute)},
		{"Renew zero ttl", "lease duration", s.Renew(ctx, "r", "w", 0)},
		{"Release empty ID", "empty run ID", s.Release(ctx, "", "w")},
		{"Request no verb", "without a verb", s.Request(ctx, "r", journal.Request{})},
		{"Claim empty owner", "empty lease owner", func() error { _, err := s.Claim(ctx, "", time.Minute, 1); return err }()},
		{"Acquire zero ttl", "lease duration", func() error { _, err := s.Acquire(ctx, "r", "w", 0); return err }()},
	} {
		if tc.err == nil || !strings.HasPrefix(tc.err.Error(), "sqlite: ") || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a sqlite: error about %q", tc.name, tc.err, tc.want)
		}
	}
	_, es, err := s.Load(ctx, "r")
	if err != nil || len(es) != 0 {
		t.Fatalf("after bad input: %d entries, %v", len(es), err)
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if _, err := sqlite.Open(t.Context(), p); err == nil || !strings.HasPrefix(err.Error(), "sqlite: ") {
			t.Errorf("Open(%q): got %v, want a sqlite: error", p, err)
		}
	}
	_, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "no", "such", "dir", "j.db"))
	if err == nil {
		t.Error("Open in a missing directory: no error")
	}
}

// TestSchemaTooNew checks that a file written by newer code is refused.
func TestSchemaTooNew(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	is.NoErr(open(t, path).Close())
	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	_, err = db.Exec(fmt.Sprintf("PRAGMA user_version = %d", sqlite.SchemaVersion+1))
	is.NoErr(err)
	is.NoErr(db.Close())

	_, err = sqlite.Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), "newer than this code knows") {
		t.Fatalf("got %v, want a schema version error", err)
	}
}

// TestSchemaVersion checks that a new file gets the current version and
// that reopening it migrates nothing.
func TestSchemaVersion(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	is.NoErr(open(t, path).Close())
	is.NoErr(open(t, path).Close())
	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	defer db.Close()
	var v int
	is.NoErr(db.QueryRow("PRAGMA user_version").Scan(&v))
	is.Equal(v, sqlite.SchemaVersion)
	var mode string
	is.NoErr(db.QueryRow("PRAGMA journal_mode").Scan(&mode))
	is.Equal(mode, "wal")
}

// TestCanceledWait checks that a caller whose context ends gets its
// context's error, and that the store still works.
func TestCanceledWait(t *testing.T) {
	is := is.New(t)
	s := open(t, filepath.Join(t.TempDir(), "journal.db"))
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Create(ctx, journal.Run{ID: "r", Status: journal.Running})
	is.True(errors.Is(err, context.Canceled))
	_, _, err = s.Load(t.Context(), "r")
	is.True(errors.Is(err, journal.ErrNotFound))
	is.NoErr(s.Create(t.Context(), journal.Run{ID: "r", Status: journal.Running}))
}

// TestCloseDrains checks that writes queued before Close are committed.
func TestCloseDrains(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	s := open(t, path)
	var wg sync.WaitGroup
	results := make([]error, 50)
	for i := range results {
		wg.Go(func() {
			results[i] = s.Create(t.Context(), journal.Run{ID: fmt.Sprint(i), Status: journal.Running})
		})
	}
	closeErr := s.Close()
	wg.Wait()
	is.NoErr(closeErr)

	s = open(t, path)
	defer s.Close()
	for i, err := range results {
		_, _, lerr := s.Load(t.Context(), fmt.Sprint(i))
		switch {
		case err == nil:
			is.NoErr(lerr) // acknowledged: stored
		case errors.Is(err, journal.ErrClosed):
			is.True(errors.Is(lerr, journal.ErrNotFound)) // refused: not stored
		default:
			t.Fatalf("create %d: %v", i, err)
		}
	}
}

// TestMigrateFromVersion1 opens a file of schema version 1 with a pending
// run in it: the store migrates it, and Claim finds the run.
func TestMigrateFromVersion1(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	_, err = db.Exec(sqlite.Migration(0))
	is.NoErr(err)
	_, err = db.Exec(`PRAGMA user_version = 1`)
	is.NoErr(err)
	_, err = db.Exec(`INSERT INTO runs VALUES ('run-1', 'order', 'fp', 'pending', NULL, '', '', '', '', '', 1, 1, 0, '', 0)`)
	is.NoErr(err)
	is.NoErr(db.Close())

	s := open(t, path)
	defer s.Close()
	runs, err := s.Claim(t.Context(), "w1", time.Minute, 10)
	is.NoErr(err)
	is.Equal(len(runs), 1)
	is.Equal(runs[0].Status, journal.Pending)
}

// Entries whose texts are empty are written with literals, the others
// with every value bound: a batch of entries mixing both, and batches of
// each, load back exactly.
func TestPlainAndFullEntriesRoundTrip(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "journal.db"))
	defer s.Close()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	want := []journal.Entry{
		{Kind: journal.RunStarted, State: []byte(`{}`), At: at},
		{Kind: journal.StepStarted, Step: "a", Attempt: 1, At: at},
		{Kind: journal.StepSucceeded, Step: "a", Attempt: 1, Attempts: 2, State: []byte(`{"a":1}`), At: at},
		{Kind: journal.StepFailed, Step: "b", Attempt: 1, Attempts: 1, Error: "boom", At: at},
		{Kind: journal.RequestMade, Verb: journal.Resume, Note: "go on", At: at},
		{Kind: journal.RunEnded, Status: journal.Succeeded, At: at},
	}
	is.NoErr(s.Create(ctx, journal.Run{ID: "r", Status: journal.Running, LeaseOwner: "w", LeaseExpiry: time.Now().Add(time.Hour)}, want[:3]...))
	is.NoErr(s.Append(ctx, "r", "w", journal.Update{}, want[3:5]...))
	is.NoErr(s.Append(ctx, "r", "w", journal.Update{}, want[5]))
	_, got, err := s.Load(ctx, "r")
	is.NoErr(err)
	is.Equal(len(got), len(want))
	for i := range want {
		want[i].Seq = int64(i + 1)
		is.Equal(got[i], want[i])
	}
}

package sqlite_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

var tripPlan = journal.Plan{Fingerprint: "fp", Saga: "trip", Steps: []journal.PlanStep{
	{Name: "debit", Kind: "compensatable"},
	{Name: "flight", Kind: "compensatable", After: []string{"debit"}},
	{Name: "hotel", Kind: "pivot", After: []string{"debit", "flight"}},
}}

// TestMigrateFromVersion3 opens a file of schema version 3 with a run in
// it: the store migrates it in place, the run keeps what it had (its
// lease token starts at 0, and the next grant makes it 1), and the store
// keeps plans.
func TestMigrateFromVersion3(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "journal.db")
	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	for i := range 3 {
		_, err = db.Exec(sqlite.Migration(i))
		is.NoErr(err)
	}
	_, err = db.Exec(`PRAGMA user_version = 3`)
	is.NoErr(err)
	_, err = db.Exec(`INSERT INTO runs VALUES
		('run-1', 'trip', 'fp', 'paused', x'7b7d', 'boom', '', '', '', '', 1, 1, 0, '', 0, '', 0, 0)`)
	is.NoErr(err)
	_, err = db.Exec(`INSERT INTO entries VALUES ('run-1', 1, 'run_started', '', 0, 0, '', NULL, '', '', '', 1)`)
	is.NoErr(err)
	is.NoErr(db.Close())

	s := open(t, path)
	defer s.Close()
	r, es, err := s.Load(ctx, "run-1")
	is.NoErr(err)
	is.Equal(r.Status, journal.Paused)
	is.Equal(r.Error, "boom")
	is.Equal(r.LeaseToken, int64(0))
	is.Equal(len(es), 1)
	r, err = s.Acquire(ctx, "run-1", "w1", time.Minute)
	is.NoErr(err)
	is.Equal(r.LeaseToken, int64(1))
	is.NoErr(s.Append(ctx, "run-1", "w1", journal.Update{Lease: 1}))
	is.True(errors.Is(s.Append(ctx, "run-1", "w1", journal.Update{Lease: 2}), journal.ErrLeaseLost))
	_, err = s.LoadPlan(ctx, "fp")
	is.True(errors.Is(err, journal.ErrNotFound))
	is.NoErr(s.SavePlan(ctx, tripPlan))
	got, err := s.LoadPlan(ctx, "fp")
	is.NoErr(err)
	if d := cmp.Diff(tripPlan, got); d != "" {
		t.Fatalf("plan (-want +got):\n%s", d)
	}

	db, err = sql.Open("sqlite", path)
	is.NoErr(err)
	defer db.Close()
	var v int
	is.NoErr(db.QueryRow("PRAGMA user_version").Scan(&v))
	is.Equal(v, sqlite.SchemaVersion)
	is.Equal(v, 5)
}

// TestPlanFormat checks the plans table's JSON, which tools read without
// this package, and that a plan survives reopening the file.
func TestPlanFormat(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "journal.db")
	s := open(t, path)
	is.NoErr(s.SavePlan(ctx, tripPlan))
	is.NoErr(s.SavePlan(ctx, journal.Plan{Fingerprint: "empty", Saga: "nothing"}))
	is.NoErr(s.Close())

	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	defer db.Close()
	var saga, steps string
	is.NoErr(db.QueryRow(`SELECT saga, steps FROM plans WHERE fingerprint = 'fp'`).Scan(&saga, &steps))
	is.Equal(saga, "trip")
	is.Equal(steps, `[{"name":"debit","kind":"compensatable","after":[]},`+
		`{"name":"flight","kind":"compensatable","after":["debit"]},`+
		`{"name":"hotel","kind":"pivot","after":["debit","flight"]}]`)
	is.NoErr(db.QueryRow(`SELECT steps FROM plans WHERE fingerprint = 'empty'`).Scan(&steps))
	is.Equal(steps, `[]`)

	s = open(t, path)
	defer s.Close()
	got, err := s.LoadPlan(ctx, "fp")
	is.NoErr(err)
	if d := cmp.Diff(tripPlan, got); d != "" {
		t.Fatalf("plan after reopening (-want +got):\n%s", d)
	}
	got, err = s.LoadPlan(ctx, "empty")
	is.NoErr(err)
	is.Equal(got, journal.Plan{Fingerprint: "empty", Saga: "nothing"})

	err = s.SavePlan(ctx, journal.Plan{Saga: "x"})
	if err == nil || !strings.HasPrefix(err.Error(), "sqlite: ") {
		t.Fatalf("SavePlan without a fingerprint: got %v, want a sqlite: error", err)
	}
	_, err = s.LoadPlan(ctx, "nope")
	if !errors.Is(err, journal.ErrNotFound) || !strings.HasPrefix(err.Error(), "sqlite: ") {
		t.Fatalf("LoadPlan of an unknown fingerprint: got %v, want a sqlite: ErrNotFound", err)
	}
	is.NoErr(s.Close())
	_, err = s.LoadPlan(ctx, "fp")
	is.True(errors.Is(err, journal.ErrClosed))
	is.True(errors.Is(s.SavePlan(ctx, tripPlan), journal.ErrClosed))
}

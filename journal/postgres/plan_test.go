package postgres_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
)

var tripPlan = journal.Plan{Fingerprint: "fp", Saga: "trip", Steps: []journal.PlanStep{
	{Name: "debit", Kind: "compensatable"},
	{Name: "flight", Kind: "compensatable", After: []string{"debit"}},
	{Name: "hotel", Kind: "pivot", After: []string{"debit", "flight"}},
}}

// TestMigratePlans: a schema of version 2, with a run in it, migrates in
// place: the run keeps what it had, and the store keeps plans.
func TestMigratePlans(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	p := sharedPool(t)
	is.NoErr(postgres.MigrateTo(ctx, p, schema, 2))
	_, err := p.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "runs"}.Sanitize()+` (id, saga, fingerprint, status,
		state, error, note, request_verb, request_step, request_note, created, updated, ended, lease_owner, lease_expiry, last_seq)
		VALUES ('old', 'trip', 'fp', 'paused', '\x7b7d', 'boom', '', '', '', '', 1, 1, 0, '', 0, 0)`)
	is.NoErr(err)

	s, err := postgres.New(ctx, p, postgres.WithSchema(schema))
	is.NoErr(err)
	defer s.Close()
	is.Equal(query[int](t, `SELECT max(version) FROM `+pgx.Identifier{schema, "sagakit_migrations"}.Sanitize()), postgres.SchemaVersion)
	got, _, err := s.Load(ctx, "old")
	is.NoErr(err)
	is.Equal(got.Status, journal.Paused)
	is.Equal(got.Error, "boom")
	is.Equal(string(got.State), "{}")
	_, err = s.LoadPlan(ctx, "fp")
	is.True(errors.Is(err, journal.ErrNotFound))
	is.NoErr(s.SavePlan(ctx, tripPlan))
	plan, err := s.LoadPlan(ctx, "fp")
	is.NoErr(err)
	if d := cmp.Diff(tripPlan, plan); d != "" {
		t.Fatalf("plan (-want +got):\n%s", d)
	}
}

// TestPlanFormat checks the plans table's JSON, which tools read without
// this package, and the errors of SavePlan and LoadPlan.
func TestPlanFormat(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	s, err := postgres.New(ctx, sharedPool(t), postgres.WithSchema(schema))
	is.NoErr(err)
	is.NoErr(s.SavePlan(ctx, tripPlan))
	is.NoErr(s.SavePlan(ctx, journal.Plan{Fingerprint: "empty", Saga: "nothing"}))

	plans := pgx.Identifier{schema, "plans"}.Sanitize()
	is.Equal(query[string](t, `SELECT saga FROM `+plans+` WHERE fingerprint = 'fp'`), "trip")
	is.True(query[bool](t, `SELECT steps = $1::jsonb FROM `+plans+` WHERE fingerprint = 'fp'`,
		`[{"name": "debit", "kind": "compensatable", "after": []},
		{"name": "flight", "kind": "compensatable", "after": ["debit"]},
		{"name": "hotel", "kind": "pivot", "after": ["debit", "flight"]}]`))
	is.True(query[bool](t, `SELECT steps = '[]'::jsonb FROM `+plans+` WHERE fingerprint = 'empty'`))
	got, err := s.LoadPlan(ctx, "empty")
	is.NoErr(err)
	is.Equal(got, journal.Plan{Fingerprint: "empty", Saga: "nothing"})

	err = s.SavePlan(ctx, journal.Plan{Saga: "x"})
	if err == nil || !strings.HasPrefix(err.Error(), "postgres: ") {
		t.Fatalf("SavePlan without a fingerprint: got %v, want a postgres: error", err)
	}
	_, err = s.LoadPlan(ctx, "nope")
	if !errors.Is(err, journal.ErrNotFound) || !strings.HasPrefix(err.Error(), "postgres: ") {
		t.Fatalf("LoadPlan of an unknown fingerprint: got %v, want a postgres: ErrNotFound", err)
	}
	is.NoErr(s.Close())
	_, err = s.LoadPlan(ctx, "fp")
	is.True(errors.Is(err, journal.ErrClosed))
	is.True(errors.Is(s.SavePlan(ctx, tripPlan), journal.ErrClosed))
}

// TestConcurrentSavePlan: stores saving plans of one fingerprint at once
// all succeed, and the first plan saved stays.
func TestConcurrentSavePlan(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newSchema(t)
	const n = 4
	stores := make([]*postgres.Store, n)
	for i := range stores {
		s, err := postgres.New(ctx, sharedPool(t), postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.SavePlan(ctx, tripPlan) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := stores[0].LoadPlan(ctx, "fp")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(tripPlan, got); d != "" {
		t.Fatalf("plan (-want +got):\n%s", d)
	}
}

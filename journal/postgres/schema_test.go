package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
)

func TestMigrateNewSchema(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	schema := newSchema(t)
	s, err := postgres.Open(t.Context(), testDSN(t), postgres.WithSchema(schema))
	is.NoErr(err)
	defer s.Close()
	version := query[int](t, `SELECT max(version) FROM `+pgx.Identifier{schema, "sagakit_migrations"}.Sanitize())
	is.Equal(version, postgres.SchemaVersion)
	tables := query[[]string](t, `SELECT array_agg(tablename::text ORDER BY tablename) FROM pg_tables WHERE schemaname = $1`, schema)
	is.Equal(tables, []string{"entries", "plans", "runs", "sagakit_migrations", "signals"})
}

// TestReopen: a store opened again on its schema finds its runs, and
// migrates nothing.
func TestReopen(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	s, err := postgres.Open(ctx, testDSN(t), postgres.WithSchema(schema))
	is.NoErr(err)
	run := journal.Run{ID: "r1", Saga: "order", Fingerprint: "fp", Status: journal.Running,
		State: []byte(`{"a":1}`), LeaseOwner: "w1", LeaseExpiry: time.Now().Add(time.Hour)}
	at := time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.UTC)
	is.NoErr(s.Create(ctx, run, journal.Entry{Kind: journal.RunStarted, At: at}))
	is.NoErr(s.Append(ctx, "r1", "w1", journal.Update{Status: journal.Paused},
		journal.Entry{Kind: journal.StepFailed, Step: "charge", Attempt: 2, Attempts: 3, Error: "declined", At: at.Add(1)}))
	is.NoErr(s.Close())

	s, err = postgres.Open(ctx, testDSN(t), postgres.WithSchema(schema))
	is.NoErr(err)
	defer s.Close()
	got, es, err := s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(got.Status, journal.Paused)
	is.Equal(string(got.State), `{"a":1}`)
	want := []journal.Entry{
		{Seq: 1, Kind: journal.RunStarted, At: at},
		{Seq: 2, Kind: journal.StepFailed, Step: "charge", Attempt: 2, Attempts: 3, Error: "declined", At: at.Add(1)},
	}
	if d := cmp.Diff(want, es); d != "" {
		t.Fatalf("entries after reopening (-want +got):\n%s", d)
	}
	is.Equal(es[0].At.Location(), time.UTC)
	is.Equal(query[int](t, `SELECT count(*) FROM `+pgx.Identifier{schema, "sagakit_migrations"}.Sanitize()), postgres.SchemaVersion)
}

// TestMigrateLeaseTokens: a schema of version 3, with runs in it, one
// leased, migrates in place to version 4: its runs get lease token 0,
// their lease is kept, a write without a token goes on, and the next
// grant gives token 1.
func TestMigrateLeaseTokens(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	p := sharedPool(t)
	is.NoErr(postgres.MigrateTo(ctx, p, schema, 3))
	_, err := p.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "runs"}.Sanitize()+` (id, saga, fingerprint, status,
		state, error, note, request_verb, request_step, request_note, created, updated, ended, lease_owner, lease_expiry, last_seq)
		VALUES ('free', 'trip', 'fp', 'pending', NULL, '', '', '', '', '', 1, 1, 0, '', 0, 0),
		('leased', 'trip', 'fp', 'running', NULL, '', '', '', '', '', 2, 2, 0, 'w1',
			((extract(epoch FROM now()) + 3600) * 1000000000)::bigint, 0)`)
	is.NoErr(err)

	s, err := postgres.New(ctx, p, postgres.WithSchema(schema))
	is.NoErr(err)
	defer s.Close()
	is.Equal(query[int](t, `SELECT max(version) FROM `+pgx.Identifier{schema, "sagakit_migrations"}.Sanitize()), postgres.SchemaVersion)
	runs, err := s.List(ctx, journal.Filter{})
	is.NoErr(err)
	is.Equal(len(runs), 2)
	for _, r := range runs {
		is.Equal(r.LeaseToken, int64(0)) // a run of the old schema
	}

	// The lease taken before the migration still holds, without a token.
	is.NoErr(s.Append(ctx, "leased", "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"}))
	is.True(errors.Is(s.Append(ctx, "leased", "w1", journal.Update{Lease: 1}), journal.ErrLeaseLost))
	claimed, err := s.Claim(ctx, "w2", time.Minute, 10)
	is.NoErr(err)
	is.Equal(len(claimed), 1)
	is.Equal(claimed[0].ID, "free")
	is.Equal(claimed[0].LeaseToken, int64(1))
	is.NoErr(s.Append(ctx, "free", "w2", journal.Update{Lease: 1}, journal.Entry{Kind: journal.StepStarted, Step: "a"}))
	got, es, err := s.Load(ctx, "leased")
	is.NoErr(err)
	is.Equal(got.LeaseToken, int64(0))
	is.Equal(got.LeaseOwner, "w1")
	is.Equal(len(es), 1)
}

// TestNewerSchemaRefused: a schema migrated by newer code to a version
// that needs it is refused, with and without migration, with an error
// saying to upgrade. A version recorded without what it needs (by hand,
// say) needs itself.
func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	for name, insert := range map[string]string{
		"needs itself":     `(version, min_code_version) VALUES ($1, $1)`,
		"needs no less":    `(version, min_code_version) VALUES ($1, $1 - 1), ($1 + 1, $1)`,
		"recorded without": `(version) VALUES ($1)`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			schema := migratedSchema(t)
			_, err := sharedPool(t).Exec(t.Context(),
				`INSERT INTO `+pgx.Identifier{schema, "sagakit_migrations"}.Sanitize()+` `+insert, postgres.SchemaVersion+1)
			is.NoErr(err)

			_, err = postgres.Open(t.Context(), testDSN(t), postgres.WithSchema(schema))
			if err == nil || !strings.Contains(err.Error(), "newer than this code knows") {
				t.Fatalf("Open on a newer schema: got %v, want an error saying it is newer", err)
			}
			_, err = postgres.New(t.Context(), sharedPool(t), postgres.WithSchema(schema), postgres.WithoutMigration())
			if err == nil || !strings.Contains(err.Error(), "upgrade sagakit") {
				t.Fatalf("New without migration on a newer schema: got %v, want an error saying to upgrade", err)
			}
		})
	}
}

// TestNewerCompatibleSchemaOpens: during a rolling upgrade, a worker of
// this version opens a schema that newer code migrated when the versions
// it does not know let it (min_code_version), with and without
// migration, and works on it; it migrates nothing.
func TestNewerCompatibleSchemaOpens(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	schema := migratedSchema(t)
	table := pgx.Identifier{schema, "sagakit_migrations"}.Sanitize()
	_, err := sharedPool(t).Exec(ctx, `INSERT INTO `+table+` (version, min_code_version) VALUES ($1, $2), ($1 + 1, $2)`,
		postgres.SchemaVersion+1, postgres.SchemaVersion)
	is.NoErr(err)

	for _, opts := range [][]postgres.Option{{postgres.WithSchema(schema)}, {postgres.WithSchema(schema), postgres.WithoutMigration()}} {
		s, err := postgres.Open(ctx, testDSN(t), opts...)
		is.NoErr(err)
		id := "r" + strconv.Itoa(len(opts))
		is.NoErr(s.Create(ctx, journal.Run{ID: id, Saga: "order", Fingerprint: "fp", Status: journal.Pending}))
		got, _, err := s.Load(ctx, id)
		is.NoErr(err)
		is.Equal(got.Status, journal.Pending)
		is.NoErr(s.Close())
	}
	is.Equal(query[int](t, `SELECT max(version) FROM `+table), postgres.SchemaVersion+2)
	is.Equal(query[int](t, `SELECT count(*) FROM `+table), postgres.SchemaVersion+2)
}

// TestMigrationsRecordWhatTheyNeed: each version is recorded with the
// oldest code version that works on it, which is never newer than the
// version itself.
func TestMigrationsRecordWhatTheyNeed(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	schema := migratedSchema(t)
	needs := query[[]int32](t, `SELECT array_agg(min_code_version ORDER BY version) FROM `+
		pgx.Identifier{schema, "sagakit_migrations"}.Sanitize())
	is.Equal(len(needs), postgres.SchemaVersion)
	for i, n := range needs {
		is.True(n >= 1 && int(n) <= i+1) // version i+1 needs code of version 1 to i+1
	}
	is.Equal(needs[4], int32(4)) // a storage parameter: code of version 4 works on version 5
}

// migratedSchema returns a new schema that a store of this version
// created and closed.
func migratedSchema(t *testing.T) string {
	t.Helper()
	schema := newSchema(t)
	s, err := postgres.Open(t.Context(), testDSN(t), postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return schema
}

// TestConcurrentOpens: workers starting at once on a new schema all
// open it; the advisory lock lets one create it.
func TestConcurrentOpens(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	dsn := testDSN(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	stores := make(chan *postgres.Store, n)
	for range n {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(schema))
			if err != nil {
				errs <- err
				return
			}
			stores <- s
		})
	}
	wg.Wait()
	close(errs)
	close(stores)
	for s := range stores {
		_ = s.Close()
	}
	for err := range errs {
		t.Fatalf("concurrent Open: %v", err)
	}
	is.New(t).Equal(query[int](t, `SELECT count(*) FROM `+pgx.Identifier{schema, "sagakit_migrations"}.Sanitize()),
		postgres.SchemaVersion)
}

// TestSchemasApart: stores on two schemas of one database do not see
// each other's runs.
func TestSchemasApart(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	a, b := newStore(t), newStore(t)
	is.NoErr(a.Create(ctx, journal.Run{ID: "r1", Status: journal.Pending}))
	_, _, err := b.Load(ctx, "r1")
	is.True(err != nil && strings.Contains(err.Error(), "not found"))
	runs, err := b.Claim(ctx, "w", time.Minute, 10)
	is.NoErr(err)
	is.Equal(len(runs), 0)
}

func TestBadSchemaName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "1abc", `a"b`, "a b", "a.b", strings.Repeat("x", 56)} {
		_, err := postgres.Open(t.Context(), "postgres://127.0.0.1:1/x", postgres.WithSchema(name))
		if err == nil || !strings.Contains(err.Error(), "bad schema name") {
			t.Errorf("schema %q: got %v, want a bad schema name error", name, err)
		}
	}
}

// The runs table leaves room in its pages for the new version of a row a
// step updates (schema version 5), so that the update is a HOT one.
func TestRunsLeaveRoomForUpdates(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	schema := newSchema(t)
	s, err := postgres.New(t.Context(), sharedPool(t), postgres.WithSchema(schema))
	is.NoErr(err)
	defer s.Close()
	opts := query[[]string](t, `SELECT reloptions FROM pg_class WHERE oid = $1::regclass`, pgx.Identifier{schema, "runs"}.Sanitize())
	is.Equal(opts, []string{"fillfactor=70"})
}

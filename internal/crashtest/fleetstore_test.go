//go:build unix

package crashtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// The journal the processes of TestFleetDrain share. The parent chooses
// it (fleetStores: SQLite, and PostgreSQL when SAGAKIT_POSTGRES_DSN is
// set) and passes it to every process in its plan; each process opens its
// own Store on it (openFleetStore).

// postgresDSNEnv names the environment variable with the DSN of a
// PostgreSQL database the tests may create schemas in. The children
// inherit it from the parent.
const postgresDSNEnv = "SAGAKIT_POSTGRES_DSN"

// Kinds of fleet store.
const (
	sqliteStore   = "sqlite"
	postgresStore = "postgres"
)

// fleetStore names the journal the processes of a test share.
type fleetStore struct {
	Kind   string
	Path   string // sqliteStore: the file
	Schema string // postgresStore: this test's schema (the DSN comes from postgresDSNEnv)
}

func (s fleetStore) String() string {
	if s.Kind == postgresStore {
		return fmt.Sprintf("PostgreSQL, schema %s", s.Schema)
	}
	return "SQLite, " + filepath.Base(s.Path)
}

// openPostgres opens the PostgreSQL journal in schema.
func openPostgres(ctx context.Context, dsn, schema string) (journal.Store, error) {
	return postgres.Open(ctx, dsn, postgres.WithSchema(schema))
}

// dropPostgres drops a test's schema.
func dropPostgres(ctx context.Context, dsn, schema string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

// fleetStores returns the journals a fleet test runs on: SQLite (its Path
// set by the test), and PostgreSQL in a schema of the test's own, dropped
// when it is done, if SAGAKIT_POSTGRES_DSN is set. With
// SAGAKIT_REQUIRE_POSTGRES=1 (as in CI), a missing DSN fails the test.
func fleetStores(t *testing.T) []fleetStore {
	t.Helper()
	stores := []fleetStore{{Kind: sqliteStore}}
	dsn := os.Getenv(postgresDSNEnv)
	if dsn == "" {
		if os.Getenv("SAGAKIT_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL required (SAGAKIT_REQUIRE_POSTGRES=1) but %s is not set", postgresDSNEnv)
		}
		t.Logf("%s is not set: SQLite only", postgresDSNEnv)
		return stores
	}
	s := fleetStore{Kind: postgresStore, Schema: fmt.Sprintf("crashtest_%d_%d", os.Getpid(), time.Now().UnixNano())}
	t.Cleanup(func() {
		if err := dropPostgres(context.Background(), dsn, s.Schema); err != nil {
			t.Errorf("drop schema %s: %v", s.Schema, err)
		}
	})
	return append(stores, s)
}

// openFleetStore opens s for one process.
func openFleetStore(ctx context.Context, s fleetStore) (journal.Store, error) {
	switch s.Kind {
	case sqliteStore:
		return sqlite.Open(ctx, s.Path)
	case postgresStore:
		dsn := os.Getenv(postgresDSNEnv)
		if dsn == "" {
			return nil, fmt.Errorf("crashtest: %s is not set", postgresDSNEnv)
		}
		return openPostgres(ctx, dsn, s.Schema)
	}
	return nil, fmt.Errorf("crashtest: unknown fleet store %q", s.Kind)
}

// recordStore wraps s in a recordingStore logging to ev, which also logs
// releases, and keeps s's wake-ups if it has them (a recordingStore alone
// would hide them from Engine.Work, which would fall back to polling).
func recordStore(s journal.Store, ev *eventLog) journal.Store {
	rec := releaseRecorder{recordingStore{Store: s, ev: ev}}
	if w, ok := s.(journal.Waker); ok {
		return wakingRecorder{rec, w}
	}
	return rec
}

// releaseRecorder is a recordingStore that logs releases too: a released
// lease ends before it expires.
type releaseRecorder struct {
	recordingStore
}

func (s releaseRecorder) Release(ctx context.Context, runID, owner string) error {
	t0 := time.Now().UnixNano()
	err := s.Store.Release(ctx, runID, owner)
	s.ev.add(event{Ev: "release", T0: t0, Run: runID, OK: err == nil, Err: errString(err)})
	return err
}

type wakingRecorder struct {
	releaseRecorder
	w journal.Waker
}

func (s wakingRecorder) Wakeups(ctx context.Context) <-chan struct{} { return s.w.Wakeups(ctx) }

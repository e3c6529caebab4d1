//go:build unix

package crashtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// The journal the processes of TestFleetDrain share. The parent chooses
// it (chooseFleetStore) and passes it to every process in its plan; each
// process opens its own Store on it (openFleetStore). SQLite is the
// default; PostgreSQL is used when it is plugged in below and
// SAGAKIT_POSTGRES_DSN is set.

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

// openPostgres opens a PostgreSQL journal in schema, or is nil while no
// PostgreSQL store is plugged in; dropPostgres, if not nil, drops a
// test's schema when the test is done.
//
// ===== PLUG POSTGRESQL IN HERE =====
// Once package journal/postgres is in the tree, import it and
// "github.com/jackc/pgx/v5" in this file and set:
//
//	var openPostgres = func(ctx context.Context, dsn, schema string) (journal.Store, error) {
//		return postgres.Open(ctx, dsn, postgres.WithSchema(schema))
//	}
//
//	var dropPostgres = func(ctx context.Context, dsn, schema string) error {
//		conn, err := pgx.Connect(ctx, dsn)
//		if err != nil {
//			return err
//		}
//		defer conn.Close(ctx)
//		_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
//		return err
//	}
//
// Nothing else changes: with SAGAKIT_POSTGRES_DSN set, chooseFleetStore
// then gives each test a schema of its own, which the parent creates (by
// opening it) before it starts the processes, and drops when done.
var (
	openPostgres func(ctx context.Context, dsn, schema string) (journal.Store, error)
	dropPostgres func(ctx context.Context, dsn, schema string) error
)

// chooseFleetStore chooses the journal of a test whose files go in dir:
// PostgreSQL if it is plugged in and SAGAKIT_POSTGRES_DSN is set, else a
// SQLite file in dir.
func chooseFleetStore(t *testing.T, dir string) fleetStore {
	t.Helper()
	if os.Getenv(postgresDSNEnv) != "" {
		if openPostgres != nil {
			// A schema of its own for each test: reruns and concurrent
			// packages do not see each other's runs.
			s := fleetStore{Kind: postgresStore, Schema: fmt.Sprintf("crashtest_%d_%d", os.Getpid(), time.Now().UnixNano())}
			if dropPostgres != nil {
				t.Cleanup(func() {
					if err := dropPostgres(context.Background(), os.Getenv(postgresDSNEnv), s.Schema); err != nil {
						t.Errorf("drop schema %s: %v", s.Schema, err)
					}
				})
			}
			return s
		}
		t.Logf("%s is set, but no PostgreSQL store is plugged in (fleetstore_test.go): using SQLite", postgresDSNEnv)
	}
	return fleetStore{Kind: sqliteStore, Path: filepath.Join(dir, "journal.db")}
}

// openFleetStore opens s for one process.
func openFleetStore(ctx context.Context, s fleetStore) (journal.Store, error) {
	switch s.Kind {
	case sqliteStore:
		return sqlite.Open(ctx, s.Path)
	case postgresStore:
		if openPostgres == nil {
			return nil, fmt.Errorf("crashtest: no PostgreSQL store plugged in")
		}
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

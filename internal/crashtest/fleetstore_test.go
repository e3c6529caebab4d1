//go:build unix

package crashtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// The journal the processes of a test share: TestFleetDrain's, and the
// crash scenarios' (crash_test.go, pause_test.go). A test runs once per
// kind (fleetKinds: SQLite, and PostgreSQL when SAGAKIT_POSTGRES_DSN is
// set), each subtest on a new journal of its own (newFleetStore), which
// it passes to every process in its plan; each process opens its own
// Store on it (openFleetStore, or openFleetStoreWithClock for a parent
// that recovers a dead child's runs).

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
	// App is the application_name of a process's connections to
	// PostgreSQL, "" for the default: execChild names its child's, to
	// wait until they are gone (see settleChild).
	App string
}

func (s fleetStore) String() string {
	if s.Kind == postgresStore {
		return fmt.Sprintf("PostgreSQL, schema %s", s.Schema)
	}
	return "SQLite, " + filepath.Base(s.Path)
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

// postgresRequiredEnv, set to 1 (as in CI), makes a missing
// SAGAKIT_POSTGRES_DSN fail the tests that run on every fleet store
// instead of running them on SQLite only.
const postgresRequiredEnv = "SAGAKIT_REQUIRE_POSTGRES"

// fleetKinds returns the kinds of journal a test runs on, one subtest
// each: SQLite always, and PostgreSQL if SAGAKIT_POSTGRES_DSN is set.
// With SAGAKIT_REQUIRE_POSTGRES=1, a missing DSN fails the test.
func fleetKinds(t *testing.T) []string {
	t.Helper()
	if os.Getenv(postgresDSNEnv) != "" {
		return []string{sqliteStore, postgresStore}
	}
	if os.Getenv(postgresRequiredEnv) == "1" {
		t.Fatalf("PostgreSQL required (%s=1) but %s is not set", postgresRequiredEnv, postgresDSNEnv)
	}
	t.Logf("%s is not set: SQLite only", postgresDSNEnv)
	return []string{sqliteStore}
}

// newFleetStore returns a new, empty journal of kind for t: the SQLite
// file journal.db in dir, or a PostgreSQL schema of t's own, dropped when
// t is done (after the cleanups t registers later, such as closing its
// stores).
func newFleetStore(t *testing.T, kind, dir string) fleetStore {
	t.Helper()
	switch kind {
	case sqliteStore:
		return fleetStore{Kind: sqliteStore, Path: filepath.Join(dir, "journal.db")}
	case postgresStore:
		dsn := os.Getenv(postgresDSNEnv)
		if dsn == "" {
			t.Fatalf("%s is not set", postgresDSNEnv)
		}
		s := fleetStore{Kind: postgresStore, Schema: newSchemaName()}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := dropPostgres(ctx, dsn, s.Schema); err != nil {
				t.Errorf("drop schema %s: %v", s.Schema, err)
			}
		})
		return s
	}
	t.Fatalf("unknown fleet store %q", kind)
	return fleetStore{}
}

// schemas counts the schemas this process has named.
var schemas atomic.Uint64

// newSchemaName returns a schema name no other test uses: this process's
// ID, a counter, and random bits against other processes on the same
// database (on other machines, or an earlier process with this ID that
// left its schema behind). It is at most 48 bytes.
func newSchemaName() string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("crashtest_%d_%d_%x", os.Getpid(), schemas.Add(1), b)
}

// openFleetStore opens s for one process.
func openFleetStore(ctx context.Context, s fleetStore) (journal.Store, error) {
	return openFleetStoreWithClock(ctx, s, nil)
}

// openFleetStoreWithClock opens s with the current time read from now
// (sqlite.WithClock, postgres.WithNow) instead of the usual clock
// (time.Now for SQLite, the database's for PostgreSQL): a parent that
// recovers a dead child's runs opens the journal an hour ahead, so that
// the child's leases have expired. A nil now means the usual clock.
func openFleetStoreWithClock(ctx context.Context, s fleetStore, now func() time.Time) (journal.Store, error) {
	switch s.Kind {
	case sqliteStore:
		var opts []sqlite.Option
		if now != nil {
			opts = append(opts, sqlite.WithClock(now))
		}
		return sqlite.Open(ctx, s.Path, opts...)
	case postgresStore:
		dsn := os.Getenv(postgresDSNEnv)
		if dsn == "" {
			return nil, fmt.Errorf("crashtest: %s is not set", postgresDSNEnv)
		}
		if s.App != "" {
			dsn = withApp(dsn, s.App)
		}
		opts := []postgres.Option{postgres.WithSchema(s.Schema)}
		if now != nil {
			opts = append(opts, postgres.WithNow(now))
		}
		return postgres.Open(ctx, dsn, opts...)
	}
	return nil, fmt.Errorf("crashtest: unknown fleet store %q", s.Kind)
}

// withApp adds application_name app to dsn, a URL or key=value pairs.
func withApp(dsn, app string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set("application_name", app)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " application_name=" + app
}

// childStore returns s with its connections to PostgreSQL named for a
// child process (s itself on SQLite).
func childStore(s fleetStore) fleetStore {
	if s.Kind == postgresStore && s.App == "" {
		s.App = s.Schema + "_child"
	}
	return s
}

// settleChild returns once a child that has ended, on s (see childStore),
// has no connection left to PostgreSQL. A statement it sent before it
// died, a commit above all, is still carried out by the server, which
// notices the death only when it answers: until the child's backends
// have ended, its last write may land in the journal after the parent has
// read it as the crash left it. On SQLite, the child's transactions end
// with it.
func settleChild(t *testing.T, s fleetStore) {
	t.Helper()
	if s.Kind != postgresStore || s.App == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, os.Getenv(postgresDSNEnv))
	if err != nil {
		t.Fatalf("settle the child: %v", err)
	}
	defer conn.Close(ctx)
	for {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", s.App).Scan(&n); err != nil {
			t.Fatalf("settle the child: %v", err)
		}
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
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

// Append logs the release of an Append whose Update releases the lease
// (a driver's last write), as Release's: the lease ends with the write.
func (s releaseRecorder) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	t0 := time.Now().UnixNano()
	err := s.recordingStore.Append(ctx, runID, owner, u, entries...)
	if u.Release {
		s.ev.add(event{Ev: "release", T0: t0, Run: runID, OK: err == nil, Err: errString(err)})
	}
	return err
}

type wakingRecorder struct {
	releaseRecorder
	w journal.Waker
}

func (s wakingRecorder) Wakeups(ctx context.Context) <-chan struct{} { return s.w.Wakeups(ctx) }

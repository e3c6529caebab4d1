package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// rawJournal creates a journal of this code's version and returns its
// path and the file opened with plain database/sql, closed at the
// test's end.
func rawJournal(t *testing.T) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	if err := open(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return path, db
}

// newerFile returns a journal of this code's version that newer code
// then migrated: stmt, given this code's version, records the newer
// versions.
func newerFile(t *testing.T, stmt string) string {
	t.Helper()
	path, db := rawJournal(t)
	if _, err := db.Exec(stmt, sqlite.SchemaVersion); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNewerSchemaRefused: a file migrated by newer code to a version
// that needs it is refused, with and without migration, with an error
// saying to upgrade; so is one whose newer version was recorded without
// what it needs (TestSchemaTooNew: by older code's rule, or by hand).
func TestNewerSchemaRefused(t *testing.T) {
	for name, stmt := range map[string]string{
		"needs itself": `INSERT INTO sagakit_versions VALUES (?1 + 1, ?1 + 1);
			PRAGMA user_version = ` + strconv.Itoa(sqlite.SchemaVersion+1),
		"needs no less": `INSERT INTO sagakit_versions VALUES (?1 + 1, ?1), (?1 + 2, ?1 + 1);
			PRAGMA user_version = ` + strconv.Itoa(sqlite.SchemaVersion+2),
		"one version unrecorded": `INSERT INTO sagakit_versions VALUES (?1 + 2, ?1);
			PRAGMA user_version = ` + strconv.Itoa(sqlite.SchemaVersion+2),
	} {
		t.Run(name, func(t *testing.T) {
			path := newerFile(t, stmt)
			for _, opts := range [][]sqlite.Option{nil, {sqlite.WithoutMigration()}} {
				_, err := sqlite.Open(t.Context(), path, opts...)
				if err == nil || !strings.Contains(err.Error(), "newer than this code knows") ||
					!strings.Contains(err.Error(), "upgrade sagakit") {
					t.Fatalf("Open(%d options) on a newer file: got %v, want an error saying to upgrade", len(opts), err)
				}
			}
		})
	}
}

// TestNewerCompatibleSchemaOpens: a process of this version opens a file
// that newer code migrated when the versions it does not know let it,
// with and without migration, and works on it; it migrates nothing.
func TestNewerCompatibleSchemaOpens(t *testing.T) {
	is := is.New(t)
	path := newerFile(t, `INSERT INTO sagakit_versions VALUES (?1 + 1, ?1), (?1 + 2, ?1);
		PRAGMA user_version = `+strconv.Itoa(sqlite.SchemaVersion+2))
	for i, opts := range [][]sqlite.Option{nil, {sqlite.WithoutMigration()}} {
		s := open(t, path, opts...)
		id := "r" + strconv.Itoa(i)
		is.NoErr(s.Create(t.Context(), journal.Run{ID: id, Saga: "order", Fingerprint: "fp", Status: journal.Pending}))
		got, _, err := s.Load(t.Context(), id)
		is.NoErr(err)
		is.Equal(got.Status, journal.Pending)
		is.NoErr(s.Close())
	}
	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	defer db.Close()
	var v, rows int
	is.NoErr(db.QueryRow("PRAGMA user_version").Scan(&v))
	is.Equal(v, sqlite.SchemaVersion+2)
	is.NoErr(db.QueryRow("SELECT count(*) FROM sagakit_versions").Scan(&rows))
	is.Equal(rows, sqlite.SchemaVersion+2)
}

// TestMigrationsRecordWhatTheyNeed: a new file records each version with
// the oldest code version that works on it, never newer than the version
// itself.
func TestMigrationsRecordWhatTheyNeed(t *testing.T) {
	is := is.New(t)
	_, db := rawJournal(t)
	rows, err := db.Query("SELECT version, min_code_version FROM sagakit_versions ORDER BY version")
	is.NoErr(err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var v, needs int
		is.NoErr(rows.Scan(&v, &needs))
		n++
		is.Equal(v, n)
		is.True(needs >= 1 && needs <= v)
	}
	is.NoErr(rows.Err())
	is.Equal(n, sqlite.SchemaVersion)
}

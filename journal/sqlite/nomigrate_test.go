package sqlite_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sagakit/sagakit/journal/sqlite"
)

// WithoutMigration opens a journal that exists and creates nothing:
// a missing file stays missing, a file that is not a journal is left as
// it was.
func TestWithoutMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	missing := filepath.Join(dir, "missing.db")
	if _, err := sqlite.Open(ctx, missing, sqlite.WithoutMigration()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the missing file was created: %v", err)
	}

	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(ctx, empty, sqlite.WithoutMigration()); err == nil {
		t.Fatal("an empty file opened as a journal")
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Fatalf("the empty file was written: %v, %d bytes", err, fi.Size())
	}

	journal := filepath.Join(dir, "journal.db")
	s, err := sqlite.Open(ctx, journal)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(ctx, journal, sqlite.WithoutMigration())
	if err != nil {
		t.Fatalf("an up-to-date journal: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

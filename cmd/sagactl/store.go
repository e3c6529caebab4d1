package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/sagakit/sagakit/journal/postgres"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// open opens the store named by --store or $SAGAKIT_STORE.
func (a *app) open(ctx context.Context) error {
	spec := a.storeSpec
	if spec == "" {
		spec = a.getenv("SAGAKIT_STORE")
	}
	if spec == "" {
		return fail(exitUsage, "no store: give --store sqlite:PATH or --store postgres://…, or set SAGAKIT_STORE")
	}
	switch {
	case strings.HasPrefix(spec, "sqlite:"):
		return a.openSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(spec, "sqlite:"), "//"))
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return a.openPostgres(ctx, spec)
	}
	return fail(exitUsage, "store %q: want sqlite:PATH or postgres://…", redact(spec))
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// openSQLite opens a SQLite journal. It never creates or migrates
// anything: the file must exist and be a sagakit journal, which it checks
// first on a read-only connection (for clear messages), and the store is
// opened with sqlite.WithoutMigration.
func (a *app) openSQLite(ctx context.Context, path string) error {
	a.describe = path
	if path == "" {
		return fail(exitUsage, "store sqlite: without a path: want sqlite:PATH")
	}
	if err := checkJournalFile(ctx, path); err != nil {
		return err
	}
	s, err := sqlite.Open(ctx, path, sqlite.WithBusyTimeout(5*time.Second), sqlite.WithReaders(2), sqlite.WithoutMigration())
	if err != nil {
		return fail(exitStore, "%v", err)
	}
	a.store, a.closeFn = s, s.Close
	return nil
}

// checkJournalFile checks that path is a SQLite file with sagakit's
// tables, reading it only.
func checkJournalFile(ctx context.Context, path string) error {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(exitStore, "%s: no such file (sagactl opens an existing journal; it creates none)", path)
	case err != nil:
		return fail(exitStore, "%v", err)
	}
	head := make([]byte, len(sqliteMagic))
	n, rerr := io.ReadFull(f, head)
	fi, serr := f.Stat()
	f.Close()
	switch {
	case serr == nil && fi.IsDir():
		return fail(exitStore, "%s is a directory, not a journal file", path)
	case n == 0 && (rerr == io.EOF || rerr == nil):
		return fail(exitStore, "%s is empty, not a sagakit journal", path)
	case rerr != nil && !errors.Is(rerr, io.ErrUnexpectedEOF):
		return fail(exitStore, "%s: %v", path, rerr)
	case !bytes.Equal(head[:n], []byte(sqliteMagic)) || n < len(sqliteMagic):
		return fail(exitStore, "%s is not a SQLite database", path)
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		return fail(exitStore, "%s: %v", path, err)
	}
	defer db.Close()
	var tables int
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('runs', 'entries')").Scan(&tables)
	switch {
	case err != nil:
		return fail(exitStore, "%s: cannot read it as a SQLite database: %v", path, err)
	case tables < 2:
		return fail(exitStore, "%s is a SQLite database but not a sagakit journal (it has no runs table)", path)
	}
	return nil
}

// openPostgres opens a PostgreSQL journal: a schema that exists, at this
// code's version (postgres.WithoutMigration), so that a mistyped schema
// name is an error, not a new empty journal.
func (a *app) openPostgres(ctx context.Context, dsn string) error {
	a.describe = redact(dsn)
	schema := a.schema
	if schema == "" {
		schema = a.getenv("SAGAKIT_SCHEMA")
	}
	opts := []postgres.Option{postgres.WithConnectTimeout(5 * time.Second), postgres.WithoutMigration()}
	if schema != "" {
		opts = append(opts, postgres.WithSchema(schema))
	}
	s, err := postgres.Open(ctx, dsn, opts...)
	if err != nil {
		return fail(exitStore, "%v", scrubPassword(err.Error(), dsn))
	}
	a.store, a.closeFn = s, s.Close
	return nil
}

// redact returns a DSN with its password masked.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		if strings.Contains(dsn, "://") {
			return "(a URL that does not parse; not shown)"
		}
		return passwordParam.ReplaceAllString(dsn, "${1}xxxxx")
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	s := u.String()
	if u.RawQuery != "" {
		s = strings.Replace(s, "?"+u.RawQuery, "?"+passwordParam.ReplaceAllString(u.RawQuery, "${1}xxxxx"), 1)
	}
	return s
}

var passwordParam = regexp.MustCompile(`(?i)(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)`)

// scrubPassword masks, in msg, any password dsn holds (the store masks
// them already; this is a second guard).
func scrubPassword(msg, dsn string) string {
	var secrets []string
	if u, err := url.Parse(dsn); err == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			secrets = append(secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
		for k, vs := range u.Query() {
			if strings.HasSuffix(strings.ToLower(k), "password") {
				secrets = append(secrets, vs...)
			}
		}
	} else if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
				secrets = append(secrets, pw)
			}
		}
	}
	for _, s := range secrets {
		if len(s) >= 2 && s != "xxxxx" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

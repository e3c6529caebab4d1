package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sagakit/sagakit/journal/postgres"
)

// Tests run against the server named by SAGAKIT_POSTGRES_DSN, each in a
// schema of its own that it drops when done. Without the variable, or
// without a server, they skip; with SAGAKIT_REQUIRE_POSTGRES=1 (as in CI)
// they fail instead.

const (
	dsnVar     = "SAGAKIT_POSTGRES_DSN"
	requireVar = "SAGAKIT_REQUIRE_POSTGRES"
)

var (
	probeOnce sync.Once
	probeErr  error
)

// testDSN returns the DSN of the test server, or skips (fails, if
// required) when there is none or it does not answer.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(dsnVar)
	unavailable := func(why string) {
		t.Helper()
		if os.Getenv(requireVar) == "1" {
			t.Fatalf("PostgreSQL required (%s=1) but %s", requireVar, why)
		}
		t.Skipf("no PostgreSQL: %s (set %s, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", why, dsnVar)
	}
	if dsn == "" {
		unavailable(dsnVar + " is not set")
	}
	probeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			probeErr = err
			return
		}
		probeErr = conn.Ping(ctx)
		_ = conn.Close(ctx)
	})
	if probeErr != nil {
		unavailable("the server does not answer: " + postgres.Scrub(probeErr, dsn).Error())
	}
	return dsn
}

// newSchema returns a fresh schema name, dropped when the test ends.
func newSchema(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sagakit_test_" + hex.EncodeToString(b)
	p := sharedPool(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := p.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

var (
	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error
)

// sharedPool is one pool for the tests that use New, so that they do not
// each connect anew.
func sharedPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := testDSN(t)
	poolOnce.Do(func() {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			poolErr = err
			return
		}
		cfg.MaxConns = 16 // parallel tests, each store with its writers
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
		pool, poolErr = pgxpool.NewWithConfig(context.Background(), cfg)
	})
	if poolErr != nil {
		t.Fatal(poolErr)
	}
	return pool
}

// newStore makes a store on the shared pool in a fresh schema. The
// pool's sessions do not wait for the disk at commit (synchronous_commit
// off): tests check what commits, not that it survives a crash of the
// server.
func newStore(t testing.TB, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	p := sharedPool(t)
	s, err := postgres.New(context.Background(), p, append([]postgres.Option{postgres.WithSchema(newSchema(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// query runs a query on the shared pool for one value.
func query[T any](t testing.TB, q string, args ...any) T {
	t.Helper()
	var v T
	if err := sharedPool(t).QueryRow(context.Background(), q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

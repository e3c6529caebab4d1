package postgres

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

	"github.com/sagakit/sagakit/journal"
)

// TestLazyBatch: a batch of lazy ops only (releases) commits without
// waiting for the server's disk; a batch with any other op waits as the
// server's sessions do, and the setting ends with the batch's
// transaction.
func TestLazyBatch(t *testing.T) {
	dsn := os.Getenv("SAGAKIT_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("SAGAKIT_REQUIRE_POSTGRES") == "1" {
			t.Fatal("PostgreSQL required (SAGAKIT_REQUIRE_POSTGRES=1) but SAGAKIT_POSTGRES_DSN is not set")
		}
		t.Skip("no PostgreSQL: set SAGAKIT_POSTGRES_DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var usual string // the sessions' synchronous_commit
	if err := conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&usual); err != nil {
		t.Fatal(err)
	}
	if usual == "off" {
		t.Skip("the server's sessions do not wait for the disk anyway (synchronous_commit=off)")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "sagakit_test_" + hex.EncodeToString(b)
	defer func() {
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Error(err)
		}
	}()
	// One connection, so that every batch goes out on the same session.
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := New(ctx, pool, WithSchema(schema), WithWriters(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// probe is an op that reads, in its batch, whether the batch waits
	// for the disk.
	probe := func(lazy bool, got *string) *op {
		return &op{
			lazy:  lazy,
			queue: func(b *pgx.Batch, _ any) { b.Queue("SELECT current_setting('synchronous_commit')") },
			read:  func(br pgx.BatchResults) error { return br.QueryRow().Scan(got) },
		}
	}
	var alone, after, mixedLazy, mixedOther string
	if err := s.do(ctx, probe(true, &alone)); err != nil {
		t.Fatal(err)
	}
	if err := s.do(ctx, probe(false, &after)); err != nil {
		t.Fatal(err)
	}
	resume := s.Stall()
	var wg sync.WaitGroup
	for _, o := range []*op{probe(true, &mixedLazy), probe(false, &mixedOther)} {
		wg.Go(func() {
			if err := s.do(ctx, o); err != nil {
				t.Error(err)
			}
		})
	}
	s.AwaitQueued(2)
	resume()
	wg.Wait()
	for _, c := range []struct{ what, got, want string }{
		{"a lazy op alone", alone, "off"},
		{"the next batch", after, usual},
		{"a lazy op with another", mixedLazy, usual},
		{"the other", mixedOther, usual},
	} {
		if c.got != c.want {
			t.Errorf("%s: synchronous_commit %s, want %s", c.what, c.got, c.want)
		}
	}
	// A release alone is lazy, and still releases.
	err = s.Create(ctx, journal.Run{ID: "r1", Status: journal.Running, LeaseOwner: "w1", LeaseExpiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "r1", "w1"); err != nil {
		t.Fatal(err)
	}
	run, _, err := s.Load(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if run.LeaseOwner != "" {
		t.Errorf("after Release, the run is leased to %q", run.LeaseOwner)
	}
}

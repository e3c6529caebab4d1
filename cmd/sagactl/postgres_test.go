package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
	"github.com/sagakit/sagakit/runview"
)

// postgresJournal returns the DSN of a PostgreSQL server and a schema of
// its own holding the shop's runs, dropped when the test ends; it skips
// the test when SAGAKIT_POSTGRES_DSN is not set (and fails it then if
// SAGAKIT_REQUIRE_POSTGRES=1).
func postgresJournal(t *testing.T) (string, string, *shop) {
	t.Helper()
	dsn := os.Getenv("SAGAKIT_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("SAGAKIT_REQUIRE_POSTGRES") == "1" {
			t.Fatal("PostgreSQL required (SAGAKIT_REQUIRE_POSTGRES=1) but SAGAKIT_POSTGRES_DSN is not set")
		}
		t.Skip("SAGAKIT_POSTGRES_DSN is not set: skipping sagactl on PostgreSQL (e.g. SAGAKIT_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("sagactl_test_%d", time.Now().UnixNano())
	store, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.Close()
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer pool.Close()
		if _, err := pool.Exec(ctx, `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
			t.Error(err)
		}
	})
	s := newShop(t, store)
	s.runs(t)
	return dsn, schema, s
}

func TestPostgres(t *testing.T) {
	is := is.New(t)
	dsn, schema, s := postgresJournal(t)
	env := []string{"SAGAKIT_STORE=" + dsn, "SAGAKIT_SCHEMA=" + schema}
	run := func(args ...string) string {
		t.Helper()
		r := sagactl(t, env, args...)
		if r.code != 0 {
			t.Fatalf("sagactl %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
		}
		return r.stdout
	}

	var rows []runview.Row
	is.NoErr(json.Unmarshal([]byte(run("list", "--json")), &rows))
	var got []string
	for _, r := range rows {
		got = append(got, r.ID+":"+string(r.Status)+":"+r.Step)
	}
	is.Equal(got, []string{"payment-4001:waiting:await_payment", "trip-2001:compensated:hotel", "transfer-3001:paused:credit",
		"order-1002:compensated:charge_card", "order-1001:succeeded:"})
	is.True(strings.Contains(run("list", "--status", "waiting"), `waits for "payment-confirmed"`))

	// Drawings have no times: the same as on SQLite.
	golden(t, "graph-order.mmd", run("graph", "order"))
	golden(t, "graph-trip-2001.mmd", run("graph", "trip-2001"))

	var r runview.Run
	is.NoErr(json.Unmarshal([]byte(run("inspect", "trip-2", "--json")), &r))
	is.True(r.Planned)
	is.Equal(len(r.Steps), 5)
	is.True(strings.Contains(run("timeline", "trip-2001"), "undo flight"))

	badInput(t, exitUsage, "matches 2 runs", env, "inspect", "order-100")
	// A mistyped schema is an error, and is not created.
	typo := schema + "_typo"
	badInput(t, exitStore, "no sagakit journal", []string{"SAGAKIT_STORE=" + dsn, "SAGAKIT_SCHEMA=" + typo}, "list")
	pool, err := pgxpool.New(context.Background(), dsn)
	is.NoErr(err)
	var schemas int
	is.NoErr(pool.QueryRow(context.Background(), `SELECT count(*)::int FROM pg_namespace WHERE nspname = $1`, typo).Scan(&schemas))
	pool.Close()
	is.Equal(schemas, 0)
	badInput(t, exitBadState, "has succeeded", env, "compensate", "order-1001")

	// A resume carried out by a worker, followed with --wait.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	worker := make(chan error, 1)
	go func() { worker <- s.engine.Work(ctx, 50*time.Millisecond) }()
	var v verbJSON
	is.NoErr(json.Unmarshal([]byte(run("resume", "transfer-3001", "--note", "bank is back", "--wait", "--json", "--timeout", "20s")), &v))
	is.Equal(v.Status, journal.Succeeded)
	is.Equal(run("signal", "payment-4001", "payment-confirmed", "--data", `"pay-1"`), "Event \"payment-confirmed\" recorded for run payment-4001\n")
	cancel()
	<-worker
}

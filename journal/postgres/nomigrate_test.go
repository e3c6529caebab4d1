package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sagakit/sagakit/journal/postgres"
)

// WithoutMigration opens a schema that exists and creates none: a
// mistyped schema name stays absent.
func TestWithoutMigration(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	schema := newSchema(t)
	_, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema), postgres.WithoutMigration())
	if err == nil || !strings.Contains(err.Error(), "no sagakit journal") {
		t.Fatalf("a missing schema: %v, want an error saying there is no journal", err)
	}
	if n := query[int](t, `SELECT count(*)::int FROM pg_namespace WHERE nspname = $1`, schema); n != 0 {
		t.Fatalf("the schema was created")
	}
	s, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s, err = postgres.Open(ctx, dsn, postgres.WithSchema(schema), postgres.WithoutMigration())
	if err != nil {
		t.Fatalf("an up-to-date schema: %v", err)
	}
	_ = s.Close()
}

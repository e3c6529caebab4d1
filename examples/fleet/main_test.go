//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/matryer/is"
	"go.uber.org/goleak"

	"github.com/sagakit/sagakit/internal/exampletest"
)

// TestMain makes the test binary a worker when the story runs it.
func TestMain(m *testing.M) {
	if name := os.Getenv(workerEnv); name != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := worker(ctx, os.Getenv(dsnEnv), os.Getenv(schemaEnv), name); err != nil {
			fmt.Fprintln(os.Stderr, name+":", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m) // the story leaves no goroutine running
}

func TestStory(t *testing.T) {
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		if os.Getenv("SAGAKIT_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL required but %s is not set", dsnEnv)
		}
		t.Skipf("no PostgreSQL: set %s (e.g. %s)", dsnEnv, defaultDSN)
	}
	is := is.New(t)
	var buf bytes.Buffer
	schema := fmt.Sprintf("fleet_test_%08x", rand.Uint32())
	is.NoErr(story(t.Context(), &buf, dsn, schema, func() (string, []string) {
		return os.Args[0], []string{"-test.run=^$"}
	}))
	exampletest.InOrder(t, buf.String(),
		"The front end started 60 orders; two workers take them.",
		"worker-1 was killed mid-step (signal: killed), holding",
		"All 60 orders ended: 60 succeeded, 0 did not.",
		"The shop holds 180 effects for 180 order steps: each step took effect once.",
		"worker-2 stopped gracefully.",
	)
}

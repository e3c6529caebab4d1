package durable_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
)

// A run paused in a SQLite file is resumed by another engine that opens
// the same file later, as a second process would.
func TestSQLitePauseThenResumeElsewhere(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "journal.db")
	var c calls

	first, err := sqlite.Open(ctx, path)
	is.NoErr(err)
	d, _ := durable.Register(durable.NewEngine(first, durable.WithOwner("first")), orderSaga(&c), durable.PauseOnFailure())
	_, err = d.Run(saga.WithRunID(ctx, "run-s"), &Order{FailShip: true})
	is.True(errors.Is(err, errShip))
	is.NoErr(first.Close())

	second, err := sqlite.Open(ctx, path)
	is.NoErr(err)
	defer second.Close()
	v, err := durable.Inspect(ctx, second, "run-s")
	is.NoErr(err)
	is.Equal(v.Run.Status, journal.Paused)

	// The fix: the state says ship may go now. Operators fix the world,
	// not the state; here the test's saga reads the flag from the state.
	e := durable.NewEngine(second, durable.WithOwner("second"))
	_, _ = durable.Register(e, orderSaga(&c), durable.PauseOnFailure())
	_, err = e.RetryStep(ctx, "run-s", "ship", "retry once more")
	if !errors.Is(err, errShip) { // the journaled state still says FailShip
		t.Fatalf("retry: %v", err)
	}
	is.Equal(c.get("ship"), 2)
	runs, err := second.List(ctx, journal.Filter{Status: []journal.Status{journal.Paused}, Saga: "order"})
	is.NoErr(err)
	is.Equal(len(runs), 1)
	is.NoErr(e.Abandon(ctx, "run-s", "customer cancelled by phone"))
	v, _ = durable.Inspect(ctx, second, "run-s")
	is.Equal(v.Run.Status, journal.Abandoned)
}

package durable_test

import (
	"context"
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// A verb given AsOf is a decision about the run as the caller saw it:
// once the journal has gone on (another operator resumed the run, and it
// paused again), it is refused with journal.ErrStale and records
// nothing; decided on the journal as it stands, it is carried out.
func TestVerbAsOfRefusesAStaleDecision(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	store := journal.NewMemory()
	e := durable.NewEngine(store, durable.WithOwner("ops"))
	var c calls
	d, err := durable.Register(e, orderSaga(&c), durable.PauseOnFailure())
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(ctx, "run-1"), &Order{FailShip: true})
	is.True(err != nil) // ship failed: paused
	first, err := durable.Inspect(ctx, store, "run-1")
	is.NoErr(err)
	is.Equal(first.Run.Status, journal.Paused)
	seen := first.Entries[len(first.Entries)-1].Seq

	// Another operator resumes it first; ship fails again.
	_, err = e.Resume(ctx, "run-1", "try again")
	is.True(err != nil)
	later, err := durable.Inspect(ctx, store, "run-1")
	is.NoErr(err)
	is.Equal(later.Run.Status, journal.Paused)

	for _, verb := range []func() error{
		func() error {
			_, err := e.Resume(ctx, "run-1", "decided on the first pause", durable.AsOf(seen))
			return err
		},
		func() error {
			_, err := e.RetryStep(ctx, "run-1", "ship", "decided on the first pause", durable.AsOf(seen))
			return err
		},
		func() error {
			_, err := e.Compensate(ctx, "run-1", "decided on the first pause", durable.AsOf(seen))
			return err
		},
		func() error { return e.Abandon(ctx, "run-1", "decided on the first pause", durable.AsOf(seen)) },
		func() error { return e.Resolve(ctx, "run-1", "decided on the first pause", durable.AsOf(seen)) },
	} {
		if err := verb(); !errors.Is(err, journal.ErrStale) {
			t.Fatalf("a verb decided on an older journal: %v, want journal.ErrStale", err)
		}
	}
	now, err := durable.Inspect(ctx, store, "run-1")
	is.NoErr(err)
	is.Equal(len(now.Entries), len(later.Entries)) // nothing recorded
	is.Equal(c.get("ship"), 2)

	_, err = e.Compensate(ctx, "run-1", "decided on the run as it is", durable.AsOf(now.Entries[len(now.Entries)-1].Seq))
	is.NoErr(err)
	run, _, err := store.Load(ctx, "run-1")
	is.NoErr(err)
	is.Equal(run.Status, journal.Compensated)
}

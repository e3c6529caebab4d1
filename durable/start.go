package durable

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sagakit/sagakit/internal/runid"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// Start journals a run of the saga over state as pending, without running
// it, and returns its ID: whichever worker claims it first drives it
// ([Engine.Work], on any process that shares the store and has the saga
// registered), and [Engine.Wait] returns its outcome.
//
// The run ID comes from ctx ([saga.WithRunID]) or is generated. With an ID
// of the caller's, Start is idempotent: when a run of that ID exists
// already, of this saga and with the same initial state, Start returns
// its ID and no error, so that a retried request does not start a second
// run; a run of that ID of another saga, or with another initial state,
// fails with an error matching [journal.ErrExists].
func (d *Definition[S]) Start(ctx context.Context, st *S) (string, error) {
	if st == nil {
		return "", saga.ErrNilState
	}
	snap, err := d.codec.Encode(st)
	if err != nil {
		return "", fmt.Errorf("durable: saga %q: state not journaled, run not started: %w", d.name(), err)
	}
	d.recordPlan(ctx)
	now := time.Now()
	id := saga.ChosenRunID(ctx)
	if id == "" {
		id = runid.New(now)
	}
	run := journal.Run{ID: id, Saga: d.name(), Fingerprint: d.fingerprint(), Status: journal.Pending, State: snap}
	note := d.e.carrierNote(ctx, saga.RunInfo{Saga: d.name(), RunID: id})
	err = d.e.store.Create(ctx, run, journal.Entry{Kind: journal.RunStarted, State: snap, Note: note, At: now})
	if errors.Is(err, journal.ErrExists) {
		return id, d.sameRun(ctx, id, snap)
	}
	if err != nil {
		return "", fmt.Errorf("%w: start run %q: %w", ErrJournal, id, err)
	}
	d.e.changed(id, true)
	return id, nil
}

// sameRun checks that the existing run id is the one Start was asked to
// start: of this saga, from the same state.
func (d *Definition[S]) sameRun(ctx context.Context, id string, snap []byte) error {
	run, entries, err := d.e.store.Load(ctx, id)
	if err != nil {
		return fmt.Errorf("durable: start run %q: it exists, but: %w", id, err)
	}
	if run.Saga != d.name() {
		return fmt.Errorf("%w: a run of saga %q", existsError{id}, run.Saga)
	}
	if len(entries) == 0 || entries[0].Kind != journal.RunStarted || !bytes.Equal(entries[0].State, snap) {
		return fmt.Errorf("%w: started with another state", existsError{id})
	}
	return nil
}

package durable

import (
	"context"
	"fmt"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// The operator verbs, as library calls: each records its request in the
// journal (with the note, kept there) and carries it out at once, in this
// process, which must have the run's saga registered. The sagactl CLI
// records the same requests without running any code; the next worker
// carries them out.

// Resume continues a paused or failed run forward from the step where it
// stopped, running that step again, or retries the failed compensations of
// a run in compensation_failed.
func (e *Engine) Resume(ctx context.Context, runID, note string) (*saga.Report, error) {
	return e.carry(ctx, runID, journal.Request{Verb: journal.Resume, Note: note})
}

// RetryStep runs step again, then continues: for a paused or failed run,
// step must be where the run stopped; for a run in compensation_failed,
// only that step's compensation is retried.
func (e *Engine) RetryStep(ctx context.Context, runID, step, note string) (*saga.Report, error) {
	return e.carry(ctx, runID, journal.Request{Verb: journal.RetryStep, Step: step, Note: note})
}

// Compensate compensates a paused or failed run now. It fails with
// ErrPastPivot when the run's pivot has succeeded.
func (e *Engine) Compensate(ctx context.Context, runID, note string) (*saga.Report, error) {
	return e.carry(ctx, runID, journal.Request{Verb: journal.Compensate, Note: note})
}

// Resolve marks a run resolved by hand, keeping note in the journal.
func (e *Engine) Resolve(ctx context.Context, runID, note string) error {
	_, err := e.carry(ctx, runID, journal.Request{Verb: journal.Resolve, Note: note})
	return err
}

// Abandon gives up on a run, keeping note in the journal.
func (e *Engine) Abandon(ctx context.Context, runID, note string) error {
	_, err := e.carry(ctx, runID, journal.Request{Verb: journal.Abandon, Note: note})
	return err
}

func (e *Engine) carry(ctx context.Context, runID string, req journal.Request) (*saga.Report, error) {
	if err := e.store.Request(ctx, runID, req); err != nil {
		return nil, fmt.Errorf("durable: %s %s: %w", req.Verb, runID, err)
	}
	run, err := e.store.Acquire(ctx, runID, e.owner, e.ttl)
	if err != nil {
		return nil, fmt.Errorf("durable: %s %s: %w (the request stays recorded for the next worker)", req.Verb, runID, err)
	}
	return e.driveClaimed(ctx, run)
}

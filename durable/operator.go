package durable

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// The operator verbs, as library calls: each records its request in the
// journal (with the note, kept there) and carries it out at once, in this
// process. Resume, RetryStep and Compensate run saga code, so the run's
// saga must be registered here; Resolve and Abandon run none and work on
// any run. The sagactl CLI records the same requests without running any
// code; the next worker carries them out.
//
// A verb returns nil when it did what was asked, and the run's report
// rebuilt from its whole journal (as [Inspect] does). It fails with
// [ErrBusy], recording nothing, when this engine is driving the run
// already; with [journal.ErrPending], recording nothing, while another
// request on the run waits to be carried out (a run holds one at a time);
// with [journal.ErrFinal] on a run that has ended; with
// [journal.ErrStale], recording nothing, when the verb was given [AsOf]
// and the run's journal has gone on since (a Resume or RetryStep given
// no AsOf is decided on the journal as the verb reads it, and on a run
// paused on the unknown outcome of a step that is not idempotent it
// fails with [ErrBadRequest], recording nothing: running that step again
// must be decided on a journal the caller names); and with an
// error matching [journal.ErrLeaseLost] when another worker drives the
// run: the request then stays recorded, and is carried out (or refused,
// if the run has ended by then) once that worker lets the run go.
// A request is checked against the run's status when it is carried out.
// When ctx ends while a verb drives the run, the run stops at its next
// step boundary (a running step is not interrupted) and is left, lease
// released, for a worker to carry on; the verb returns [ErrStopping].

// Resume continues a paused, failed or blocked run forward from the step
// where it stopped, running that step again (under the same idempotency
// key if its outcome is unknown: it never ended, or its re-run after a
// crash failed, and the execution it ran again may have taken effect),
// or retries the failed compensations of
// a run in compensation_failed. It returns the run's error if the run
// stops again (a step fails anew).
func (e *Engine) Resume(ctx context.Context, runID, note string, opts ...VerbOption) (*saga.Report, error) {
	return e.carry(ctx, runID, request(journal.Request{Verb: journal.Resume, Note: note}, opts))
}

// RetryStep runs step again, then continues: for a paused or failed run,
// step must be where the run stopped (it runs as a new execution, with a
// new idempotency key, unless its outcome is unknown: see Resume); for a
// run in compensation_failed, only that step's compensation is retried.
func (e *Engine) RetryStep(ctx context.Context, runID, step, note string, opts ...VerbOption) (*saga.Report, error) {
	return e.carry(ctx, runID, request(journal.Request{Verb: journal.RetryStep, Step: step, Note: note}, opts))
}

// Compensate compensates a paused, failed, blocked or crashed run now,
// and retries the failed compensations of a run in compensation_failed.
// A step whose outcome is unknown is compensated too. The run keeps its
// original error. Compensate fails with ErrPastPivot when the run's pivot
// has succeeded, and with an error matching [saga.ErrCompensationFailed]
// when a compensation fails.
func (e *Engine) Compensate(ctx context.Context, runID, note string, opts ...VerbOption) (*saga.Report, error) {
	return e.carry(ctx, runID, request(journal.Request{Verb: journal.Compensate, Note: note}, opts))
}

// Resolve marks a run resolved by hand, keeping note in the journal.
func (e *Engine) Resolve(ctx context.Context, runID, note string, opts ...VerbOption) error {
	_, err := e.carry(ctx, runID, request(journal.Request{Verb: journal.Resolve, Note: note}, opts))
	return err
}

// Abandon gives up on a run, keeping note in the journal.
func (e *Engine) Abandon(ctx context.Context, runID, note string, opts ...VerbOption) error {
	_, err := e.carry(ctx, runID, request(journal.Request{Verb: journal.Abandon, Note: note}, opts))
	return err
}

// VerbOption configures an operator verb.
type VerbOption func(*journal.Request)

// AsOf makes a verb a decision about the run as its journal stood at
// entry seq, the newest the caller read (the last of [Inspect]'s
// entries, as a person saw it): if the journal has gone on since (the
// run was resumed by someone else, paused anew on another cause, carried
// on by a worker), the verb fails with an error matching
// [journal.ErrStale] and records nothing, rather than act on a run that
// is no longer as the caller saw it. A resume decided on a run paused by
// a step's failure is thus never carried out on the same run paused,
// since, on the unknown outcome of a step that is not idempotent.
func AsOf(seq int64) VerbOption {
	return func(r *journal.Request) { r.Seen = seq }
}

func request(r journal.Request, opts []VerbOption) journal.Request {
	for _, o := range opts {
		o(&r)
	}
	return r
}

func (e *Engine) carry(ctx context.Context, runID string, req journal.Request) (*saga.Report, error) {
	h, err := e.begin(runID)
	if err != nil {
		return nil, fmt.Errorf("durable: %s %s: %w", req.Verb, runID, err)
	}
	if err := e.decidedOn(ctx, runID, &req); err != nil {
		h.end()
		return nil, fmt.Errorf("durable: %s %s: %w", req.Verb, runID, err)
	}
	if err := e.store.Request(ctx, runID, req); err != nil {
		h.end()
		return nil, fmt.Errorf("durable: %s %s: %w", req.Verb, runID, err)
	}
	granted := time.Now()
	run, err := e.store.Acquire(ctx, runID, e.owner, e.ttl)
	if err != nil {
		h.end()
		return nil, fmt.Errorf("durable: %s %s: %w (the request stays recorded for the next worker)", req.Verb, runID, err)
	}
	h.token = run.LeaseToken
	_, err = e.driveHeld(ctx, claim{granted: granted, drain: ctx, hold: h}, runID)
	h.release(ctx)
	v, verr := Inspect(context.WithoutCancel(ctx), e.store, runID)
	if verr != nil {
		return nil, errors.Join(err, verr)
	}
	return v.Report, verbResult(err)
}

// decidedOn makes a Resume or RetryStep given no [AsOf] a decision on
// the run's journal as it stands now, and refuses it, recording nothing,
// on a run paused on the unknown outcome of a step that is not
// idempotent: resuming runs that step again, and a caller that names no
// entry may have decided on the run as it was before it paused (it was
// running when the caller listed it, say). Such a resume must say what
// it was decided on.
func (e *Engine) decidedOn(ctx context.Context, runID string, req *journal.Request) error {
	if req.Seen != 0 || (req.Verb != journal.Resume && req.Verb != journal.RetryStep) {
		return nil
	}
	run, entries, err := e.store.Load(ctx, runID)
	if err != nil || len(entries) == 0 {
		return nil // the request reports it
	}
	if PausedOnUnknownOutcome(run) {
		return fmt.Errorf("%w: the run paused on the unknown outcome of a step that is not idempotent, which a %s runs again: name the journal entry the decision was made on (AsOf; sagactl --seen)",
			ErrBadRequest, req.Verb)
	}
	req.Seen = entries[len(entries)-1].Seq
	return nil
}

// PausedOnUnknownOutcome reports whether run is paused on the unknown
// outcome of a step that is not idempotent ([ErrOutcomeUnknown]). A
// resume or a retry of it runs that step again, so it must name the
// journal entry it was decided on ([AsOf]): [Engine.Resume] and
// [Engine.RetryStep] refuse it otherwise.
func PausedOnUnknownOutcome(run journal.Run) bool {
	return run.Status == journal.Paused && strings.Contains(run.Error, ErrOutcomeUnknown.Error())
}

// verbResult is a verb's error: nil when the run went where the verb
// sent it, the run's error when a step or compensation failed anew or the
// driver stopped.
func verbResult(err error) error {
	var se *saga.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	if se.Step != "" || len(se.Compensation) > 0 || len(se.Others) > 0 || se.Status == saga.StatusPaused || se.Status == saga.StatusFailed {
		return err
	}
	return nil
}

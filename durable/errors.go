package durable

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sagakit/sagakit/journal"
)

// Errors of durable runs and operator verbs.
var (
	// ErrDefinitionChanged: the journaled run was made by a definition
	// whose fingerprint (step names, kinds, order, dependencies) differs
	// from the registered one's; resuming it could run the wrong steps.
	ErrDefinitionChanged = errors.New("durable: saga definition changed since the run started")
	// ErrUnknownSaga: no definition is registered under the run's saga name.
	ErrUnknownSaga = errors.New("durable: saga not registered")
	// ErrPastPivot: the run's pivot succeeded, so it can no longer be
	// compensated.
	ErrPastPivot = errors.New("durable: run is past its pivot and cannot be compensated")
	// ErrCrashed is the cause recorded for a run compensated because the
	// process driving it stopped.
	ErrCrashed = errors.New("durable: the process driving the run stopped mid-step")
	// ErrOutcomeUnknown: a step was running when the process driving the
	// run stopped, so whether it took effect is unknown. The run pauses
	// with this error when recovery may neither run the step again nor
	// compensate it on its own.
	ErrOutcomeUnknown = errors.New("durable: step outcome unknown")
	// ErrStateLost: the state after a step that succeeded could not be
	// encoded, so the journal's newest snapshot is older than the run's
	// effects; the run pauses, and nothing that needs the state (resume,
	// retry, compensate) is carried out on it. Resolve or abandon it.
	ErrStateLost = errors.New("durable: state after a succeeded step not journaled")
	// ErrBadRequest: an operator request that does not fit the run's state.
	ErrBadRequest = errors.New("durable: request does not apply")
	// ErrBusy: this engine is driving the run already; nothing was done.
	ErrBusy = errors.New("durable: run is being driven by this engine")
	// ErrStopping: the engine stopped driving the run at a step boundary
	// because its context ended (a graceful shutdown); the run stays
	// unfinished in the journal, its lease released, for another worker.
	ErrStopping = errors.New("durable: engine stopping, run left for another worker")
	// ErrJournal: the journal could not be written, so the run stopped
	// where it was; it stays unfinished in the journal for recovery.
	ErrJournal = errors.New("durable: journal write failed")
)

// existsError is the error of a Run whose ID is taken.
type existsError struct{ id string }

func (e existsError) Error() string { return fmt.Sprintf("durable: run %q exists", e.id) }
func (e existsError) Unwrap() error { return journal.ErrExists }

// journaled is the list of this package's errors that a journaled error
// text may start with: rebuilt from the journal, the error matches its
// sentinel again (errors.Is), as it did when it happened.
var journaled = []error{
	ErrWaitTimedOut, ErrOutcomeUnknown, ErrCrashed, ErrStateLost, ErrDefinitionChanged,
	ErrUnknownSaga, ErrPastPivot, ErrBadRequest, ErrNotDurable,
}

// rebuilt returns an error with text, from a journal: one of this
// package's sentinels wrapped, when text starts with its message.
func rebuilt(text string) error {
	for _, s := range journaled {
		if rest, ok := strings.CutPrefix(text, s.Error()); ok {
			return &rebuiltError{sentinel: s, text: text, rest: rest}
		}
	}
	return errors.New(text)
}

// rebuiltError is a journaled error that wraps a sentinel of this package.
type rebuiltError struct {
	sentinel error
	text     string
	rest     string
}

func (e *rebuiltError) Error() string { return e.text }
func (e *rebuiltError) Unwrap() error { return e.sentinel }

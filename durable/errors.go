package durable

import "errors"

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
	// ErrCrashed is the cause recorded for a run compensated because a
	// step's outcome was lost in a crash.
	ErrCrashed = errors.New("durable: the process driving the run stopped mid-step")
	// ErrBadRequest: an operator request that does not fit the run's state.
	ErrBadRequest = errors.New("durable: request does not apply")
	// ErrJournal: the journal could not be written, so the run stopped
	// where it was; it stays unfinished in the journal for recovery.
	ErrJournal = errors.New("durable: journal write failed")
)

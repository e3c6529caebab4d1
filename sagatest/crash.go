package sagatest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
)

// ErrCrashed is the error of every write to a [CrashingStore] from the
// write at which its process "died" on: a durable run driven through it
// stops there with an error matching ErrCrashed, and stays unfinished in
// the store, as after a real crash.
var ErrCrashed = errors.New("sagatest: simulated crash: the process died here")

// store is journal.Store under a name that embeds as an unexported field.
type store = journal.Store

// CrashingStore is a [journal.Store] that simulates the death of the
// process writing through it, at a chosen journal write: the n-th, or
// the first that journals a given entry (a step's start or end, a
// compensation's, a wait, the run's end). Give it to the engine of the
// process that is to die, and the store it wraps to the engines that
// live on:
//
//	crash := sagatest.NewCrashingStore(store).CrashBefore(journal.StepSucceeded, "charge")
//	dying := durable.NewEngine(crash) // charge runs; its end is never journaled
//	...
//	next := durable.NewEngine(store) // the next process recovers the run
//
// At a crash before a write, the write is lost; at a crash after one, it
// is kept and the writer told it failed, as when a process dies between
// its commit and the reply. Either way that write and every one after it
// fail with [ErrCrashed]: the dead process renews and releases no lease,
// claims no run and records nothing more, so its runs stay leased to it
// until their leases expire (see [Recover]). Reads (Load, List, Signals,
// LoadPlan) and Close pass through.
//
// Writes are Create and Append calls, counted from 1 across runs and
// writers. A CrashingStore implements [journal.Signaler],
// [journal.Planner] and [journal.Waker] with the wrapped store's
// methods; when the wrapped store lacks one of them, those methods fail
// (Signal and Signals with an error matching [durable.ErrNotDurable])
// and Wakeups returns a channel that never fires. A CrashingStore is
// safe for concurrent use; its crash point may be set while it is used.
type CrashingStore struct {
	store
	mu      sync.Mutex
	at      crashPoint
	writes  int
	crashed bool
}

type crashPoint struct {
	after bool         // keep the write, then die
	write int          // the n-th write (0: none)
	kind  journal.Kind // the first write with an entry of this kind ("": none)
	step  string       // and of this step ("": any)
}

// NewCrashingStore returns a store that writes to s until it is told
// where to crash. It panics if s is nil.
func NewCrashingStore(s journal.Store) *CrashingStore {
	if s == nil {
		panic("sagatest: NewCrashingStore with a nil store")
	}
	return &CrashingStore{store: s}
}

// CrashBefore makes the process die at the first write that journals an
// entry of kind for step (for any step if step is ""; entries of the
// run, such as [journal.RunEnded], have none), before the write, which is
// lost. Before [journal.StepSucceeded] of a step, the step has run but
// its outcome is lost; before [journal.StepWaiting], the step waits but
// its run is not journaled as waiting. It returns s.
func (s *CrashingStore) CrashBefore(kind journal.Kind, step string) *CrashingStore {
	return s.crashAt(crashPoint{kind: kind, step: step})
}

// CrashAfter is [CrashingStore.CrashBefore] with the write kept: after
// [journal.StepStarted] of a step, the step's start is journaled but the
// step never runs. It returns s.
func (s *CrashingStore) CrashAfter(kind journal.Kind, step string) *CrashingStore {
	return s.crashAt(crashPoint{after: true, kind: kind, step: step})
}

// CrashBeforeWrite makes the process die at the n-th write (counting from
// 1), before it: the write is lost. It returns s.
func (s *CrashingStore) CrashBeforeWrite(n int) *CrashingStore {
	return s.crashAt(crashPoint{write: n})
}

// CrashAfterWrite makes the process die at the n-th write, after it: the
// write is kept. It returns s.
func (s *CrashingStore) CrashAfterWrite(n int) *CrashingStore {
	return s.crashAt(crashPoint{after: true, write: n})
}

func (s *CrashingStore) crashAt(p crashPoint) *CrashingStore {
	if p.write < 0 || p.write == 0 && p.kind == "" {
		panic("sagatest: no crash point: give a positive write number or an entry kind")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = p
	return s
}

// Crash makes the process die now: every write from now on fails. A step
// that calls it dies in its middle, its outcome unknown to the journal.
func (s *CrashingStore) Crash() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crashed = true
}

// Crashed reports whether the process has died.
func (s *CrashingStore) Crashed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.crashed
}

// Writes returns how many writes the process made or tried while alive,
// the one it died at included.
func (s *CrashingStore) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Unwrap returns the wrapped store: the one the processes that live on
// use.
func (s *CrashingStore) Unwrap() journal.Store { return s.store }

// write decides the fate of a write of entries: whether it goes through,
// and whether the process dies at it.
func (s *CrashingStore) write(entries []journal.Entry) (through, dies bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return false, false
	}
	s.writes++
	hit := s.at.write == s.writes
	if s.at.kind != "" {
		for _, e := range entries {
			hit = hit || e.Kind == s.at.kind && (s.at.step == "" || e.Step == s.at.step)
		}
	}
	if !hit {
		return true, false
	}
	s.crashed = true
	return s.at.after, true
}

// died returns the error of a write that went through: ErrCrashed if the
// process died at it.
func died(dies bool, err error) error {
	switch {
	case !dies:
		return err
	case err != nil:
		return fmt.Errorf("%w (and the write failed: %w)", ErrCrashed, err)
	}
	return ErrCrashed
}

// dead returns ErrCrashed once the process has died.
func (s *CrashingStore) dead() error {
	if s.Crashed() {
		return ErrCrashed
	}
	return nil
}

// Create implements [journal.Store.Create].
func (s *CrashingStore) Create(ctx context.Context, run journal.Run, entries ...journal.Entry) error {
	through, dies := s.write(entries)
	if !through {
		return ErrCrashed
	}
	return died(dies, s.store.Create(ctx, run, entries...))
}

// Append implements [journal.Store.Append].
func (s *CrashingStore) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	through, dies := s.write(entries)
	if !through {
		return ErrCrashed
	}
	return died(dies, s.store.Append(ctx, runID, owner, u, entries...))
}

// Claim implements [journal.Store.Claim].
func (s *CrashingStore) Claim(ctx context.Context, owner string, ttl time.Duration, n int) ([]journal.Run, error) {
	if err := s.dead(); err != nil {
		return nil, err
	}
	return s.store.Claim(ctx, owner, ttl, n)
}

// Acquire implements [journal.Store.Acquire].
func (s *CrashingStore) Acquire(ctx context.Context, runID, owner string, ttl time.Duration) (journal.Run, error) {
	if err := s.dead(); err != nil {
		return journal.Run{}, err
	}
	return s.store.Acquire(ctx, runID, owner, ttl)
}

// Renew implements [journal.Store.Renew].
func (s *CrashingStore) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	if err := s.dead(); err != nil {
		return err
	}
	return s.store.Renew(ctx, runID, owner, ttl)
}

// Release implements [journal.Store.Release].
func (s *CrashingStore) Release(ctx context.Context, runID, owner string) error {
	if err := s.dead(); err != nil {
		return err
	}
	return s.store.Release(ctx, runID, owner)
}

// Request implements [journal.Store.Request].
func (s *CrashingStore) Request(ctx context.Context, runID string, r journal.Request) error {
	if err := s.dead(); err != nil {
		return err
	}
	return s.store.Request(ctx, runID, r)
}

// Errors of the methods of the optional interfaces the wrapped store
// does not implement. A step that waits fails as it would on that store.
var (
	errNoSignals = fmt.Errorf("%w: the store under the sagatest.CrashingStore keeps no signals", durable.ErrNotDurable)
	errNoPlans   = errors.New("sagatest: the store under the sagatest.CrashingStore keeps no plans")
)

// Signal implements [journal.Signaler.Signal].
func (s *CrashingStore) Signal(ctx context.Context, runID string, sig journal.Signal) (bool, error) {
	if err := s.dead(); err != nil {
		return false, err
	}
	sg, ok := s.store.(journal.Signaler)
	if !ok {
		return false, errNoSignals
	}
	return sg.Signal(ctx, runID, sig)
}

// Signals implements [journal.Signaler.Signals].
func (s *CrashingStore) Signals(ctx context.Context, runID string) ([]journal.Signal, error) {
	sg, ok := s.store.(journal.Signaler)
	if !ok {
		return nil, errNoSignals
	}
	return sg.Signals(ctx, runID)
}

// SavePlan implements [journal.Planner.SavePlan].
func (s *CrashingStore) SavePlan(ctx context.Context, p journal.Plan) error {
	if err := s.dead(); err != nil {
		return err
	}
	pl, ok := s.store.(journal.Planner)
	if !ok {
		return errNoPlans
	}
	return pl.SavePlan(ctx, p)
}

// LoadPlan implements [journal.Planner.LoadPlan].
func (s *CrashingStore) LoadPlan(ctx context.Context, fingerprint string) (journal.Plan, error) {
	pl, ok := s.store.(journal.Planner)
	if !ok {
		return journal.Plan{}, errNoPlans
	}
	return pl.LoadPlan(ctx, fingerprint)
}

// Wakeups implements [journal.Waker].
func (s *CrashingStore) Wakeups(ctx context.Context) <-chan struct{} {
	w, ok := s.store.(journal.Waker)
	if !ok {
		return nil
	}
	return w.Wakeups(ctx)
}

var (
	_ journal.Store    = (*CrashingStore)(nil)
	_ journal.Signaler = (*CrashingStore)(nil)
	_ journal.Planner  = (*CrashingStore)(nil)
	_ journal.Waker    = (*CrashingStore)(nil)
)

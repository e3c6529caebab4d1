package durable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// ErrWaitTimedOut is the error of a wait ([Await]) whose deadline passed
// before its event came. A step may return it (the run then fails as for
// any step error: compensation, or a pause under [PauseOnFailure]) or
// handle it.
var ErrWaitTimedOut = errors.New("durable: wait timed out")

// ErrNotDurable is the error of [Await] or [Sleep] called outside a step
// of a durable run.
var ErrNotDurable = errors.New("durable: wait outside a step of a durable run")

// ErrWaiting is the error [Definition.Run] (and the operator verbs)
// return when the run stopped to wait for an event or a timer: it holds
// nothing while it waits; a signal or its deadline wakes it, and a worker
// ([Engine.Work]) carries it on. [Engine.Wait] returns its outcome.
var ErrWaiting = errors.New("durable: the run waits")

// Await waits for the event named event, addressed to the step's run by
// [Engine.Signal], for at most timeout (<= 0: no deadline), and returns
// its payload decoded from JSON into a T.
//
// The wait is durable and holds nothing: when the event has not come
// yet, Await returns an error matching [saga.ErrSuspended], which the
// step must return (wrapped or not); the run is journaled as waiting,
// with no lease and no goroutine, and the step runs again, from its
// beginning and as the same execution (same idempotency key), once the
// event comes or the deadline passes. Then Await returns the payload, or
// an error matching [ErrWaitTimedOut]. So everything the step does before
// Await runs again: wait first, or make what comes before idempotent
// (see [IdempotencyKey]). A wait that ended is journaled with its
// outcome: when the step runs again after that (a later wait in the same
// step, or a crash), Await returns the same payload at once.
//
// An event that came before the step waits is kept, and consumed by the
// first wait for it; each event is consumed by one wait. The deadline is
// measured on the store's clock. A graph run waits for one event or timer
// at a time: when two of its steps wait at once, the run pauses for a
// person, with an error naming both.
func Await[T any](ctx context.Context, event string, timeout time.Duration) (T, error) {
	var v T
	w := waitsFrom(ctx)
	if w == nil {
		return v, fmt.Errorf("%w: Await(%q)", ErrNotDurable, event)
	}
	payload, err := w.wait(ctx, event, timeout)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(payload, &v); err != nil {
		return v, fmt.Errorf("durable: event %q: payload does not decode into %T: %w", event, v, err)
	}
	return v, nil
}

// Sleep waits durably for d, measured on the store's clock: as with
// [Await], the step returns the error Sleep returns (it matches
// [saga.ErrSuspended]), the run waits holding nothing, and the step runs
// again from its beginning once d has passed; then Sleep returns nil at
// once. A timer that falls due while no worker runs fires when one
// starts. Sleep for no time (d <= 0) returns nil at once.
func Sleep(ctx context.Context, d time.Duration) error {
	w := waitsFrom(ctx)
	if w == nil {
		return fmt.Errorf("%w: Sleep(%v)", ErrNotDurable, d)
	}
	if d <= 0 {
		return nil
	}
	_, err := w.wait(ctx, "", d)
	return err
}

type waitsKey struct{}

// waitsFrom returns the waits of the step running on ctx, or nil.
func waitsFrom(ctx context.Context) *waits {
	w, _ := ctx.Value(waitsKey{}).(*waits)
	return w
}

// waits is what one execution of a step knows of its waits, for one pass
// of the step: the outcomes journaled before (replayed in order), the
// run's pool of unconsumed signals, and what it decided in this pass.
type waits struct {
	pool    *signalPool
	step    string
	attempt int
	// done holds the journaled outcomes (WaitEnded entries) of this
	// execution's waits, in order; this pass's waits replay them first.
	done []journal.Entry
	// parked: the run waited at wait number len(done) of this execution
	// and was woken; wake is the header's wait then.
	parked bool
	wake   journal.Wait

	mu    sync.Mutex
	n     int             // waits called in this pass
	ended []journal.Entry // WaitEnded entries of this pass, to journal
	park  *journal.WaitFor
}

// wait is one wait of the step: it returns the event's payload, nil for a
// timer, or an error: ErrWaitTimedOut, or one that suspends the step.
func (w *waits) wait(ctx context.Context, event string, timeout time.Duration) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := w.n
	w.n++
	if w.park != nil {
		return nil, fmt.Errorf("%w: step %q waits twice at once", saga.ErrSuspended, w.step)
	}
	if k < len(w.done) { // ended before: the same outcome again
		return waitOutcome(w.done[k], event)
	}
	k -= len(w.done)
	if !w.pool.supported {
		_, err := w.pool.load(ctx)
		return nil, err
	}
	end := journal.Entry{Kind: journal.WaitEnded, Step: w.step, Attempt: w.attempt, Note: event, At: time.Now()}
	if event != "" {
		sig, ok, err := w.pool.take(ctx, event)
		if err != nil {
			return nil, err
		}
		if ok {
			end.State = sig.Payload
			w.ended = append(w.ended, end)
			return sig.Payload, nil
		}
	}
	// The wait the run was woken for (the first new one of this pass)
	// ends if its deadline has passed.
	first := k == 0 && w.parked
	if first && w.wake.Due {
		if event != "" {
			end.Error = ErrWaitTimedOut.Error()
		}
		w.ended = append(w.ended, end)
		return waitOutcome(end, event)
	}
	park := &journal.WaitFor{Event: event, For: timeout}
	if first {
		park.Until = w.wake.Until // the deadline it had: a wake-up does not move it
	}
	w.park = park
	return nil, fmt.Errorf("%w: step %q waits for %s", saga.ErrSuspended, w.step, waitText(event))
}

// result returns what the step waits for, if it waits, and the WaitEnded
// entries and consumed signals of this pass.
func (w *waits) result() (park *journal.WaitFor, ended []journal.Entry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.park, w.ended
}

// waitOutcome returns what a journaled wait ended with.
func waitOutcome(e journal.Entry, event string) ([]byte, error) {
	if e.Error != "" {
		return nil, fmt.Errorf("%w: event %q", ErrWaitTimedOut, event)
	}
	return e.State, nil
}

// signalPool is a run's unconsumed signals, loaded from the store at the
// first wait that needs them, shared by the run's steps.
type signalPool struct {
	load      func(ctx context.Context) ([]journal.Signal, error)
	supported bool // the store keeps signals and waiting runs

	mu       sync.Mutex
	loaded   bool
	signals  []journal.Signal
	consumed []int64 // taken, not yet journaled as consumed
}

// take consumes the oldest unconsumed signal for event.
func (p *signalPool) take(ctx context.Context, event string) (journal.Signal, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.loaded {
		sigs, err := p.load(ctx)
		if err != nil {
			return journal.Signal{}, false, fmt.Errorf("durable: read the run's events: %w", err)
		}
		p.signals, p.loaded = sigs, true
	}
	for k, s := range p.signals {
		if s.Event == event {
			p.signals = append(p.signals[:k:k], p.signals[k+1:]...)
			p.consumed = append(p.consumed, s.ID)
			return s, true, nil
		}
	}
	return journal.Signal{}, false, nil
}

// drain returns the signals taken since the last call, to journal as
// consumed.
func (p *signalPool) drain() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := p.consumed
	p.consumed = nil
	return ids
}

func withWaits(ctx context.Context, w *waits) context.Context {
	return context.WithValue(ctx, waitsKey{}, w)
}

// waits returns the waits of step i's execution about to run.
func (r *driver[S]) waits(i int) *waits {
	return &waits{pool: r.pool, step: r.name(i), attempt: r.attempt[i], done: r.waited[i], parked: r.parked == i, wake: r.wake}
}

// park journals the run as waiting at step i for w, and stops: the run
// holds nothing while it waits.
func (r *driver[S]) park(i int, w *journal.WaitFor) (*saga.Report, error) {
	entry := journal.Entry{Kind: journal.StepWaiting, Step: r.name(i), Attempt: r.attempt[i], Note: w.Event, At: time.Now()}
	if err := r.last(journal.Update{Status: journal.Waiting, Wait: w}, entry); err != nil {
		return r.halt(err)
	}
	rep, err := r.halt(fmt.Errorf("%w: step %q waits for %s", ErrWaiting, r.name(i), waitText(w.Event)))
	// The run has not ended: it waits.
	rep.Status, rep.End = saga.StatusRunning, time.Time{}
	var se *saga.Error
	if errors.As(err, &se) {
		se.Status = saga.StatusRunning
	}
	return rep, err
}

// suspendedAlone pauses a run whose step i returned saga.ErrSuspended
// without waiting (err came from elsewhere): nothing would wake it.
func (r *driver[S]) suspendedAlone(i int, err error) (*saga.Report, error) {
	r.x.Halt(fmt.Errorf("durable: step %q returned %w without waiting (Await or Sleep)", r.name(i), err))
	r.x.Pause()
	return r.pauseRun()
}

func waitText(event string) string {
	if event == "" {
		return "a timer"
	}
	return fmt.Sprintf("event %q", event)
}

// signalPool returns the pool of run runID's signals.
func (e *Engine) signalPool(ctx context.Context, runID string) *signalPool {
	s, ok := e.store.(journal.Signaler)
	if !ok {
		return &signalPool{load: func(context.Context) ([]journal.Signal, error) {
			return nil, fmt.Errorf("%w: the store (%T) keeps no events", ErrNotDurable, e.store)
		}}
	}
	return &signalPool{supported: true, load: func(context.Context) ([]journal.Signal, error) {
		return s.Signals(ctx, runID)
	}}
}

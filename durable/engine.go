package durable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagakit/sagakit/internal/runid"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// Engine runs registered sagas durably against a journal [journal.Store]:
// it journals every run, recovers unfinished runs after a crash, and
// carries out operator requests. One Engine per process (or per worker) is
// the usual shape; several engines, in one process or many, can share a
// store: leases keep them from driving the same run. An Engine is safe for
// concurrent use.
type Engine struct {
	store   journal.Store
	owner   string
	ttl     time.Duration
	workers int
	logger  *slog.Logger
	prop    Propagator // see WithPropagator

	mu   sync.RWMutex
	defs map[string]definition

	busyMu sync.Mutex
	busy   map[string]struct{} // the runs this engine drives now

	waitMu  sync.Mutex
	waiters map[string]*waiter // by run ID: the Waits of runs
	kick    chan struct{}      // a run was started here: Work looks at once
}

// definition is a registered saga, whatever its state type.
type definition interface {
	name() string
	fingerprint() string
	// drive carries a claimed run forward: recovery, or an operator
	// request. The engine holds the run's lease.
	drive(ctx context.Context, c claim, run journal.Run, entries []journal.Entry) (*saga.Report, error)
}

// Option configures an [Engine].
type Option func(*Engine)

// WithOwner names the engine in leases (default: host name, process ID
// and a random suffix). Two live engines must not share a name.
func WithOwner(name string) Option { return func(e *Engine) { e.owner = name } }

// WithLeaseTTL sets how long a lease lasts without a heartbeat (default
// 30s; zero or less means the default; less than [MinLeaseTTL] makes
// NewEngine panic). A crashed engine's runs are recovered by others after
// this long. A live engine renews its leases every third of it, and when
// it cannot renew a lease, it ends the running step's context (with
// [journal.ErrLeaseLost] as the cause) a tenth of the TTL before the
// lease would expire.
func WithLeaseTTL(d time.Duration) Option { return func(e *Engine) { e.ttl = d } }

// MinLeaseTTL is the shortest lease [WithLeaseTTL] accepts.
const MinLeaseTTL = 10 * time.Millisecond

// WithConcurrency sets how many runs [Engine.Work] and [Engine.Recover]
// drive at once (default 16; zero or less means the default).
func WithConcurrency(n int) Option { return func(e *Engine) { e.workers = n } }

// WithLogger logs recovery and operator actions to l (default: none).
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.logger = l } }

// NewEngine returns an engine journaling to store. It panics on a nil
// store or a lease TTL below [MinLeaseTTL]: mistakes in the program, not
// run-time failures.
func NewEngine(store journal.Store, opts ...Option) *Engine {
	if store == nil {
		panic("durable: nil Store")
	}
	e := &Engine{
		store: store, ttl: 30 * time.Second, defs: map[string]definition{}, busy: map[string]struct{}{},
		waiters: map[string]*waiter{}, kick: make(chan struct{}, 1),
	}
	for _, o := range opts {
		if o != nil {
			o(e)
		}
	}
	if e.ttl > 0 && e.ttl < MinLeaseTTL {
		panic(fmt.Sprintf("durable: lease TTL %v is below the minimum of %v", e.ttl, MinLeaseTTL))
	}
	if e.workers <= 0 {
		e.workers = 16
	}
	if e.owner == "" {
		host, _ := os.Hostname()
		e.owner = host + "/" + strconv.Itoa(os.Getpid()) + "/" + runid.New(time.Now())[24:]
	}
	if e.ttl <= 0 {
		e.ttl = 30 * time.Second
	}
	return e
}

// Owner returns the name the engine leases runs under.
func (e *Engine) Owner() string { return e.owner }

// Store returns the engine's store.
func (e *Engine) Store() journal.Store { return e.store }

func (e *Engine) register(d definition) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d.name() == "" {
		return errors.New("durable: a saga must have a name (Builder.Name) to be registered")
	}
	if _, dup := e.defs[d.name()]; dup {
		return fmt.Errorf("durable: saga %q is registered already", d.name())
	}
	e.defs[d.name()] = d
	return nil
}

func (e *Engine) lookup(name string) (definition, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	d, ok := e.defs[name]
	return d, ok
}

func (e *Engine) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if e.logger != nil {
		e.logger.LogAttrs(ctx, level, msg, attrs...)
	}
}

// begin marks runID as driven by this engine, or fails with [ErrBusy] if
// it is already: one engine drives a run at most once at a time. Leases
// cannot tell the engine's callers apart, since they share its owner
// name. The caller ends its hold with [hold.end] or [hold.release].
func (e *Engine) begin(runID string) (*hold, error) {
	e.busyMu.Lock()
	defer e.busyMu.Unlock()
	if _, ok := e.busy[runID]; ok {
		return nil, fmt.Errorf("%w: run %q", ErrBusy, runID)
	}
	e.busy[runID] = struct{}{}
	return &hold{e: e, runID: runID}, nil
}

// hold is one driver's hold on a run: the engine's mark that it drives
// the run (see begin), and the run's lease, which the driver's last
// write may release (see driver.last).
//
// The order rule: the engine stops counting a run as its own before the
// store frees it, never after, so that the engine's own Work, which may
// claim the run the moment it is free, never finds it busy (it would
// leave it leased and idle until the lease ran out). The lease, in turn,
// keeps every other caller of the engine off the run until then: with
// the mark dropped and the lease live, Claim skips the run, Acquire
// refuses it, and a Definition.Run of its ID fails to create it.
//
// The lease is fenced by its token: the driver's writes name it, so that
// one made before the lease lapsed and reaching the store after the run
// was granted again, to another worker or to this engine's own Work, is
// refused instead of landing in the new driver's journal.
type hold struct {
	e     *Engine
	runID string
	token int64       // the lease's fencing token; 0: unknown, the owner alone is checked
	ended atomic.Bool // the mark is dropped: another driver may hold the run now
	freed atomic.Bool // the run's last write released the lease
}

// end drops the engine's mark on the run, once: a later call does
// nothing, even if another driver has marked the run since.
func (h *hold) end() {
	if h.ended.CompareAndSwap(false, true) {
		h.e.busyMu.Lock()
		delete(h.e.busy, h.runID)
		h.e.busyMu.Unlock()
	}
}

// release stops driving the run here, then gives up its lease, unless
// the run's last write released it already: in that order (see hold).
//
// A last write that failed did not free the lease, unless its outcome is
// unknown (the connection broke as it committed): then the run may be
// free, and perhaps claimed since, by this engine's Work too. The release
// names the lease's token, and leaves such a newer lease alone.
func (h *hold) release(ctx context.Context) {
	h.end()
	if h.freed.Load() {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if h.token == 0 {
		_ = h.e.store.Release(ctx, h.runID, h.e.owner)
		return
	}
	// Fenced: if the run was granted again meanwhile, even to this
	// engine, the new lease stays.
	_ = h.e.store.Append(ctx, h.runID, h.e.owner, journal.Update{Release: true, Lease: h.token})
}

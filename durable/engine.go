package durable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
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
	store  journal.Store
	owner  string
	ttl    time.Duration
	logger *slog.Logger

	mu   sync.RWMutex
	defs map[string]definition
}

// definition is a registered saga, whatever its state type.
type definition interface {
	name() string
	fingerprint() string
	// drive carries a claimed run forward: recovery, or an operator
	// request. The engine holds the run's lease.
	drive(ctx context.Context, run journal.Run, entries []journal.Entry) (*saga.Report, error)
}

// Option configures an [Engine].
type Option func(*Engine)

// WithOwner names the engine in leases (default: host name, process ID
// and a random suffix). Two live engines must not share a name.
func WithOwner(name string) Option { return func(e *Engine) { e.owner = name } }

// WithLeaseTTL sets how long a lease lasts without a heartbeat (default
// 30s). A crashed engine's runs are recovered by others after this long;
// a live engine renews its leases every third of it.
func WithLeaseTTL(d time.Duration) Option { return func(e *Engine) { e.ttl = d } }

// WithLogger logs recovery and operator actions to l (default: none).
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.logger = l } }

// NewEngine returns an engine journaling to store.
func NewEngine(store journal.Store, opts ...Option) *Engine {
	if store == nil {
		panic("durable: nil Store")
	}
	e := &Engine{store: store, ttl: 30 * time.Second, defs: map[string]definition{}}
	for _, o := range opts {
		o(e)
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

// heartbeat renews the lease on runID every third of the TTL until stop
// is called. When the lease is lost, it cancels the returned context so
// the run stops being driven here.
func (e *Engine) heartbeat(ctx context.Context, runID string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(e.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := e.store.Renew(context.WithoutCancel(ctx), runID, e.owner, e.ttl); errors.Is(err, journal.ErrLeaseLost) {
					cancel(err)
					return
				}
			}
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}

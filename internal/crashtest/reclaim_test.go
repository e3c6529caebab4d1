package crashtest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// TestReclaimedWhileBusy shows a window found by TestFleetDrain: a driver
// releases its run's lease before its engine marks the run as no longer
// driven. In durable, driveHeld releases the lease in a deferred call,
// and driveClaimed's deferred e.end(runID) runs only after it
// (Definition.Run does the same: Release, then the deferred end). When
// the run is left unfinished (the journal failed, the heartbeat gave the
// lease up), the engine's own Work loop may claim it in between: the
// lease is free and the run unfinished. driveClaimed's begin then fails
// with durable.ErrBusy ("driven here already: that driver keeps the
// lease"), but that driver has released it already: the new claim is
// left leased to the engine, and no one drives the run until the lease
// expires, a whole TTL, while Work logs an error.
//
// The store here fails the run's first journal write (the run stops,
// unfinished, for another worker) and holds the driver's Release open,
// after the lease is released, until the engine has claimed the run
// again and begun to drive it, or for a second: the window, made wide.
// The run should end soon after; with the window, the new claim finds
// the run busy, and the run ends a TTL later.
func TestReclaimedWhileBusy(t *testing.T) {
	const ttl = 3 * time.Second
	ctx := t.Context()
	store := &windowStore{Store: journal.NewMemory(), run: "reclaimed", failed: make(chan struct{}), loaded: make(chan struct{})}
	var logs syncBuffer
	engine := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl), durable.WithConcurrency(2),
		durable.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	nop := func(context.Context, *struct{}) error { return nil }
	def, err := durable.Register(engine, saga.New[struct{}]().Name("reclaim").
		Step("one", nop, nop, saga.Idempotent()).
		Step("two", nop, nop, saga.Idempotent()).Build())
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	worked := make(chan error, 1)
	go func() { worked <- engine.Work(wctx, 10*time.Millisecond) }()
	defer func() { stop(); <-worked }()

	if _, err := def.Start(saga.WithRunID(ctx, store.run), &struct{}{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-store.failed:
	case <-time.After(10 * time.Second):
		t.Fatal("the run's first journal write was never made")
	}
	stopped := time.Now()
	wait, cancel := context.WithTimeout(ctx, 3*ttl)
	defer cancel()
	if _, err := engine.Wait(wait, store.run); err != nil {
		t.Fatalf("the run did not succeed: %v", err)
	}
	took := time.Since(stopped)
	t.Logf("the run ended %v after its first driver stopped (lease %v)", took.Round(time.Millisecond), ttl)
	if busy := busyLines(logs.String()); len(busy) > 0 || took > ttl/2 {
		t.Errorf("the engine claimed the run while it still drove it, after that driver had released its lease, "+
			"and left it leased and idle: it ended %v after its driver stopped (lease %v); the engine logged:\n%s",
			took.Round(time.Millisecond), ttl, strings.Join(busy, "\n"))
	}
}

func busyLines(logs string) []string {
	var out []string
	for line := range strings.Lines(logs) {
		if strings.Contains(line, durable.ErrBusy.Error()) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// windowStore fails run's first Append, and holds the Release that
// follows, once the lease is released, until a driver claimed run again
// and loaded it, to drive it (or a second has passed: a claim that found
// the run busy loads nothing).
type windowStore struct {
	journal.Store
	run     string
	failed  chan struct{} // closed by the failed Append
	loaded  chan struct{} // closed by the first Load of run after it was claimed again
	fail    atomic.Bool
	again   atomic.Bool // run was claimed after the failed Append
	holding atomic.Bool
	once    sync.Once
}

func (s *windowStore) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	if runID == s.run && s.fail.CompareAndSwap(false, true) {
		close(s.failed)
		return errors.New("injected: the disk is full")
	}
	return s.Store.Append(ctx, runID, owner, u, entries...)
}

func (s *windowStore) Release(ctx context.Context, runID, owner string) error {
	err := s.Store.Release(ctx, runID, owner)
	if runID == s.run && s.fail.Load() && s.holding.CompareAndSwap(false, true) {
		select {
		case <-s.loaded:
		case <-time.After(time.Second):
		}
	}
	return err
}

func (s *windowStore) Claim(ctx context.Context, owner string, ttl time.Duration, n int) ([]journal.Run, error) {
	runs, err := s.Store.Claim(ctx, owner, ttl, n)
	for _, r := range runs {
		if r.ID == s.run && s.fail.Load() {
			s.again.Store(true)
		}
	}
	return runs, err
}

func (s *windowStore) Load(ctx context.Context, runID string) (journal.Run, []journal.Entry, error) {
	if runID == s.run && s.again.Load() {
		s.once.Do(func() { close(s.loaded) })
	}
	return s.Store.Load(ctx, runID)
}

// Wakeups keeps the memory store's wake-ups.
func (s *windowStore) Wakeups(ctx context.Context) <-chan struct{} {
	return s.Store.(journal.Waker).Wakeups(ctx)
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

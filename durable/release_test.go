package durable_test

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

// The run's last write releases its lease (journal.Update.Release): the
// tests of what must hold around it.

// lastWriteStore wraps a Memory store. A write that sets its run waiting
// first sends the run the event it waits for, as if it came while the
// step parked: the write wakes the run, which is claimable the moment the
// write commits. The write then returns once a Claim took the run (or
// after a second), so that the window between the write and its driver's
// return is wide.
type lastWriteStore struct {
	*journal.Memory
	claimed chan string // the runs Claim returned
}

func (s *lastWriteStore) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	if u.Status != journal.Waiting || u.Wait == nil {
		return s.Memory.Append(ctx, runID, owner, u, entries...)
	}
	if _, err := s.Signal(ctx, runID, journal.Signal{Event: u.Wait.Event, Payload: []byte(`7`)}); err != nil {
		return err
	}
	if err := s.Memory.Append(ctx, runID, owner, u, entries...); err != nil {
		return err
	}
	timeout := time.After(time.Second)
	for {
		select {
		case id := <-s.claimed:
			if id == runID {
				return nil
			}
		case <-timeout:
			return nil
		}
	}
}

func (s *lastWriteStore) Claim(ctx context.Context, owner string, ttl time.Duration, n int) ([]journal.Run, error) {
	runs, err := s.Memory.Claim(ctx, owner, ttl, n)
	for _, r := range runs {
		select {
		case s.claimed <- r.ID:
		default:
		}
	}
	return runs, err
}

// A run whose last write leaves it claimable (here, it parks and is woken
// in the same write) is claimed by its own engine's Work the moment the
// write commits, before its driver has returned: the engine has stopped
// counting the run as its own by then, so Work drives it at once, rather
// than find it busy and leave it leased and idle until the lease runs out.
func TestLastWriteClaimedByOwnWork(t *testing.T) {
	const ttl = time.Minute // a run left leased would wait this long
	ctx := t.Context()
	store := &lastWriteStore{Memory: journal.NewMemory(), claimed: make(chan string, 16)}
	var logs syncLog
	e := durable.NewEngine(store, durable.WithLeaseTTL(ttl), durable.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	var paid atomic.Int64
	d, err := durable.Register(e, saga.New[Order]().Name("order").
		Step("pay", func(ctx context.Context, _ *Order) error {
			v, err := durable.Await[int64](ctx, "paid", 0)
			paid.Store(v)
			return err
		}, nil).
		Step("ship", func(context.Context, *Order) error { return nil }, nil).
		Build())
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	worked := make(chan error, 1)
	go func() { worked <- e.Work(wctx, time.Hour) }() // no poll: only the release's wake-up finds the run
	defer func() { stop(); <-worked }()

	_, err = d.Run(saga.WithRunID(ctx, "run-1"), &Order{})
	if !errors.Is(err, durable.ErrWaiting) {
		t.Fatalf("Run: %v, want ErrWaiting", err)
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t0 := time.Now()
	if _, err := e.Wait(wait, "run-1"); err != nil {
		run, entries, lerr := store.Load(context.WithoutCancel(ctx), "run-1")
		t.Fatalf("the run did not succeed (%v after its driver returned): %v\nthe engine logged:\n%s\nthe run: %+v %v\n%+v", time.Since(t0), err, logs.String(), run, lerr, entries)
	}
	if paid.Load() != 7 {
		t.Errorf("the step got %d, want the event's 7", paid.Load())
	}
	if strings.Contains(logs.String(), durable.ErrBusy.Error()) {
		t.Errorf("the engine's Work found the run busy:\n%s", logs.String())
	}
}

// renewWatch is a Memory store that records a Renew that began after a
// write releasing the lease began, and holds that write for a while, so
// that a heartbeat still running would renew meanwhile.
type renewWatch struct {
	*journal.Memory
	hold      time.Duration
	releasing atomic.Bool
	late      atomic.Int32 // renewals after the release began
	releases  atomic.Int32 // Release calls
}

func (s *renewWatch) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	if u.Release {
		s.releasing.Store(true)
		time.Sleep(s.hold)
	}
	return s.Memory.Append(ctx, runID, owner, u, entries...)
}

func (s *renewWatch) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	if s.releasing.Load() {
		s.late.Add(1)
	}
	return s.Memory.Renew(ctx, runID, owner, ttl)
}

func (s *renewWatch) Release(ctx context.Context, runID, owner string) error {
	s.releases.Add(1)
	return s.Memory.Release(ctx, runID, owner)
}

// No renewal follows the write that releases the lease, however long that
// write takes: the heartbeat is hushed first (a renewal after the release
// would fail, and end the run's context as if its lease were lost). The
// engine calls no Release of its own after the write released the lease.
func TestNoRenewalAfterLastWrite(t *testing.T) {
	const ttl = 300 * time.Millisecond // renewed every 100ms
	for _, path := range []string{"Run", "Work"} {
		t.Run(path, func(t *testing.T) {
			ctx := t.Context()
			store := &renewWatch{Memory: journal.NewMemory(), hold: ttl / 2}
			e := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
			d, err := durable.Register(e, saga.New[Order]().Name("order").
				Step("one", func(context.Context, *Order) error { return nil }, nil).
				Build())
			if err != nil {
				t.Fatal(err)
			}
			switch path {
			case "Run":
				if _, err := d.Run(saga.WithRunID(ctx, "run-1"), &Order{}); err != nil {
					t.Fatalf("Run: %v", err)
				}
			case "Work":
				if _, err := d.Start(saga.WithRunID(ctx, "run-1"), &Order{}); err != nil {
					t.Fatal(err)
				}
				if n, err := e.Recover(ctx, 1); n != 1 || err != nil {
					t.Fatalf("Recover: %d runs, %v", n, err)
				}
			}
			run, _, err := store.Load(ctx, "run-1")
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != journal.Succeeded || run.LeaseOwner != "" {
				t.Errorf("run %s, leased to %q; want succeeded, free", run.Status, run.LeaseOwner)
			}
			if n := store.late.Load(); n > 0 {
				t.Errorf("%d renewals after the write that released the lease began", n)
			}
			if n := store.releases.Load(); n > 0 {
				t.Errorf("%d Release calls after the write that released the lease", n)
			}
		})
	}
}

// A last write that fails leaves the lease to the engine, which releases
// it as before: the run is free for another worker at once.
func TestLastWriteFailedReleased(t *testing.T) {
	ctx := t.Context()
	mem := journal.NewMemory()
	store := &failLast{Memory: mem}
	e := durable.NewEngine(store, durable.WithOwner("w1"))
	sg := saga.New[Order]().Name("order").
		Step("one", func(context.Context, *Order) error { return nil }, nil, saga.Idempotent()).
		Build()
	d, err := durable.Register(e, sg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Run(saga.WithRunID(ctx, "run-1"), &Order{}); !errors.Is(err, durable.ErrJournal) {
		t.Fatalf("Run: %v, want ErrJournal", err)
	}
	run, _, err := mem.Load(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != journal.Running || run.LeaseOwner != "" {
		t.Fatalf("run %s, leased to %q; want running, free", run.Status, run.LeaseOwner)
	}
	e2 := durable.NewEngine(mem, durable.WithOwner("w2"))
	if _, err := durable.Register(e2, sg); err != nil {
		t.Fatal(err)
	}
	if n, err := e2.Recover(ctx, 1); n != 1 || err != nil {
		t.Fatalf("Recover: %d runs, %v", n, err)
	}
	run, _, _ = mem.Load(ctx, "run-1")
	if run.Status != journal.Succeeded {
		t.Fatalf("run %s after recovery, want succeeded", run.Status)
	}
}

// failLast fails every write that releases the lease, writing nothing.
type failLast struct{ *journal.Memory }

// Append fails a run's last write (its entries, releasing the lease), not
// the engine's release after it (no entries).
func (s *failLast) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	if u.Release && len(entries) > 0 {
		return errors.New("injected: the disk is full")
	}
	return s.Memory.Append(ctx, runID, owner, u, entries...)
}

// syncLog is a bytes.Buffer safe for concurrent writes.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

package sagatest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/journaltest"
	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

var noRetry = retry.Policy{MaxAttempts: 1}

func memStore() journal.Store { return journal.NewMemory() }

// Until it crashes, a CrashingStore is the store it wraps.
func TestCrashingStoreConformance(t *testing.T) {
	journaltest.Run(t, func(_ *testing.T, now func() time.Time) journal.Store {
		return sagatest.NewCrashingStore(journal.NewMemory(journal.WithClock(now)))
	})
}

// world is a durable test's setting: a store on a fake clock, a service
// the steps call, and a recorder around the steps.
type world struct {
	clk   sagatest.Clock
	store *journal.Memory
	bank  sagatest.Participant
	rec   sagatest.Recorder[box]
}

func newWorld() *world {
	w := &world{}
	w.store = journal.NewMemory(journal.WithClock(w.clk.Now))
	return w
}

// saga: hold, charge, ship; each calls the bank with its key. opts are
// charge's.
func (w *world) saga(opts ...saga.StepOption) *saga.Saga[box] {
	do := func(ctx context.Context, _ *box) error { return w.bank.Do(durable.IdempotencyKey(ctx)) }
	undo := func(ctx context.Context, _ *box) error { return w.bank.Undo(durable.IdempotencyKey(ctx)) }
	return saga.New[box]().Name("order").
		Step("hold", w.rec.Action("hold", do), w.rec.Compensation("hold", undo)).
		Step("charge", w.rec.Action("charge", do), w.rec.Compensation("charge", undo), opts...).
		Step("ship", w.rec.Action("ship", do), nil).
		Build()
}

// crash runs sg on an engine writing through crash, which must die.
func (w *world) crash(t *testing.T, crash *sagatest.CrashingStore, sg *saga.Saga[box], opts ...durable.DefOption) {
	t.Helper()
	dying := durable.NewEngine(crash, durable.WithOwner("dying"))
	def, err := durable.Register(dying, sg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := def.Run(saga.WithRunID(context.Background(), "o-1"), &box{}); !errors.Is(err, sagatest.ErrCrashed) {
		t.Fatalf("want the crash, got %v", err)
	}
	if !crash.Crashed() {
		t.Fatal("not crashed")
	}
}

// recover recovers the runs on a new engine.
func (w *world) recover(t *testing.T, sg *saga.Saga[box], opts ...durable.DefOption) journal.Run {
	t.Helper()
	next := durable.NewEngine(w.store, durable.WithOwner("next"))
	if _, err := durable.Register(next, sg, opts...); err != nil {
		t.Fatal(err)
	}
	if n := sagatest.Recover(t, next, &w.clk); n != 1 {
		t.Fatalf("recovered %d runs, want 1", n)
	}
	return w.load(t)
}

func (w *world) load(t *testing.T) journal.Run {
	t.Helper()
	run, _, err := w.store.Load(context.Background(), "o-1")
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// A crash before charge's end is journaled: charge took effect, its
// outcome is lost, and recovery compensates it (it is not idempotent).
func TestCrashBeforeStepEnd(t *testing.T) {
	is := is.New(t)
	w := newWorld()
	sg := w.saga()
	w.crash(t, sagatest.NewCrashingStore(w.store).CrashBefore(journal.StepSucceeded, "charge"), sg)
	is.Equal(w.load(t).Status, journal.Running)
	is.Equal(w.bank.InEffect("o-1/"), []string{"o-1/charge/1", "o-1/hold/1"})

	is.Equal(w.recover(t, sg).Status, journal.Compensated)
	is.Equal(w.bank.InEffect("o-1/"), []string(nil))
	w.rec.AssertCompensated(t, sg, "o-1")
	is.NoErr(w.bank.Err())
}

// An idempotent step whose outcome was lost runs again under its key.
func TestCrashBeforeStepEndIdempotent(t *testing.T) {
	is := is.New(t)
	w := newWorld()
	sg := w.saga(saga.Idempotent())
	w.crash(t, sagatest.NewCrashingStore(w.store).CrashBefore(journal.StepSucceeded, "charge"), sg)
	is.Equal(w.recover(t, sg).Status, journal.Succeeded)
	does, _ := w.bank.Calls("o-1/charge/1")
	is.Equal(does, 2) // at least once; the bank took it once
	is.Equal(w.bank.InEffect("o-1/"), []string{"o-1/charge/1", "o-1/hold/1", "o-1/ship/1"})
}

// A crash after charge's start is journaled: charge never ran, and its
// compensation, which comes anyway, leaves a tombstone.
func TestCrashAfterStepStart(t *testing.T) {
	is := is.New(t)
	w := newWorld()
	sg := w.saga()
	crash := sagatest.NewCrashingStore(w.store).CrashAfter(journal.StepStarted, "charge")
	w.crash(t, crash, sg)
	is.Equal(crash.Writes(), 2) // the run with hold's start, then hold's end with charge's start
	is.Equal(calls(&w.rec), []string{"hold"})

	is.Equal(w.recover(t, sg).Status, journal.Compensated)
	is.Equal(w.bank.Status("o-1/charge/1"), sagatest.Tombstoned)
	is.Equal(w.bank.Status("o-1/hold/1"), sagatest.Undone)
	w.rec.AssertCompensated(t, sg, "o-1")
}

// A crash in the middle of compensating, and one at the run's end.
func TestCrashWhileCompensating(t *testing.T) {
	is := is.New(t)
	w := newWorld()
	sg := w.saga()
	w.rec.FailAt("ship", errors.New("no courier"))
	w.crash(t, sagatest.NewCrashingStore(w.store).CrashBefore(journal.CompSucceeded, "charge"), sg)
	is.Equal(calls(&w.rec), []string{"hold", "charge", "ship: no courier", "undo charge"})

	is.Equal(w.recover(t, sg).Status, journal.Compensated)
	is.Equal(w.bank.InEffect("o-1/"), []string(nil))
	_, undos := w.bank.Calls("o-1/charge/1")
	is.Equal(undos, 2) // its end was lost: it ran again

	s := &spy{TB: t} // which the recorder calls twice
	w.rec.AssertCompensated(s, sg, "o-1")
	is.Equal(s.reported(), `sagatest: run o-1: step "charge" was compensated 2 times (o-1/charge/1)`)
}

func TestCrashAfterRunEnded(t *testing.T) {
	is := is.New(t)
	w := newWorld()
	sg := w.saga()
	w.crash(t, sagatest.NewCrashingStore(w.store).CrashAfter(journal.RunEnded, ""), sg)
	is.Equal(w.load(t).Status, journal.Succeeded) // kept: the process died after it
}

func TestCrashAtWrite(t *testing.T) {
	is := is.New(t)
	w := newWorld()
	sg := w.saga()
	w.crash(t, sagatest.NewCrashingStore(w.store).CrashBeforeWrite(1), sg)
	_, _, err := w.store.Load(context.Background(), "o-1")
	is.True(errors.Is(err, journal.ErrNotFound)) // the run was never journaled
	is.Equal(w.rec.Calls(), []sagatest.Call(nil))

	w = newWorld()
	sg = w.saga()
	w.crash(t, sagatest.NewCrashingStore(w.store).CrashAfterWrite(1), sg)
	is.Equal(w.rec.Calls(), []sagatest.Call(nil)) // journaled with hold's start; hold never ran
	is.Equal(w.recover(t, sg).Status, journal.Compensated)
	is.Equal(w.bank.Status("o-1/hold/1"), sagatest.Tombstoned)
}

// A step that makes its process die in its middle.
func TestCrashNow(t *testing.T) {
	is := is.New(t)
	w := newWorld()
	var crash *sagatest.CrashingStore
	sg := saga.New[box]().Name("order").
		Step("hold", func(ctx context.Context, _ *box) error {
			if crash.Crashed() {
				return nil
			}
			crash.Crash()
			return w.bank.Do(durable.IdempotencyKey(ctx))
		}, nil, saga.Idempotent()).
		Build()
	crash = sagatest.NewCrashingStore(w.store)
	w.crash(t, crash, sg)
	is.Equal(crash.Writes(), 1)
	is.Equal(w.recover(t, sg).Status, journal.Succeeded)
}

// Once dead, the process writes nothing, but its reads work.
func TestCrashedStoreIsDead(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	mem := journal.NewMemory()
	crash := sagatest.NewCrashingStore(mem)
	is.Equal(crash.Unwrap(), journal.Store(mem))
	is.NoErr(crash.Create(ctx, journal.Run{ID: "r", Status: journal.Paused}))
	crash.Crash()
	is.True(errors.Is(crash.Create(ctx, journal.Run{ID: "s"}), sagatest.ErrCrashed))
	is.True(errors.Is(crash.Append(ctx, "r", "me", journal.Update{}), sagatest.ErrCrashed))
	_, err := crash.Claim(ctx, "me", time.Minute, 1)
	is.True(errors.Is(err, sagatest.ErrCrashed))
	_, err = crash.Acquire(ctx, "r", "me", time.Minute)
	is.True(errors.Is(err, sagatest.ErrCrashed))
	is.True(errors.Is(crash.Renew(ctx, "r", "me", time.Minute), sagatest.ErrCrashed))
	is.True(errors.Is(crash.Release(ctx, "r", "me"), sagatest.ErrCrashed))
	is.True(errors.Is(crash.Request(ctx, "r", journal.Request{Verb: journal.Resume}), sagatest.ErrCrashed))
	_, err = crash.Signal(ctx, "r", journal.Signal{Event: "e"})
	is.True(errors.Is(err, sagatest.ErrCrashed))
	is.True(errors.Is(crash.SavePlan(ctx, journal.Plan{Fingerprint: "f"}), sagatest.ErrCrashed))
	run, _, err := crash.Load(ctx, "r")
	is.NoErr(err)
	is.Equal(run.Status, journal.Paused)
	is.Equal(crash.Writes(), 1)
}

// bare is a store with none of the optional interfaces.
type bare struct{ journal.Store }

func TestCrashingStoreOverABareStore(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	crash := sagatest.NewCrashingStore(bare{journal.NewMemory()})
	_, err := crash.Signals(ctx, "r")
	is.True(errors.Is(err, durable.ErrNotDurable))
	_, err = crash.Signal(ctx, "r", journal.Signal{Event: "e"})
	is.True(errors.Is(err, durable.ErrNotDurable))
	is.True(crash.SavePlan(ctx, journal.Plan{Fingerprint: "f"}) != nil)
	_, err = crash.LoadPlan(ctx, "f")
	is.True(err != nil)
	is.Equal(crash.Wakeups(ctx), (<-chan struct{})(nil))
}

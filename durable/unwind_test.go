package durable_test

import (
	"context"
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/sagatest"
)

// fulfil is a graph: reserve; then charge and notify at once; then ship,
// after both. Every step calls bank with its idempotency key, through
// rec.
func fulfil(rec *sagatest.Recorder[Order], bank *sagatest.Participant) *saga.Saga[Order] {
	do := func(ctx context.Context, _ *Order) error { return bank.Do(durable.IdempotencyKey(ctx)) }
	undo := func(ctx context.Context, _ *Order) error { return bank.Undo(durable.IdempotencyKey(ctx)) }
	b := saga.New[Order]().Name("fulfil")
	step := func(name string, after ...string) {
		b.Step(name, rec.Action(name, do), rec.Compensation(name, undo), saga.After(after...))
	}
	step("reserve")
	step("charge", "reserve")
	step("notify", "reserve")
	step("ship", "charge", "notify")
	return b.Build()
}

// A graph run that fails is undone in reverse dependency order, each step
// once.
func TestGraphFailureUnwinds(t *testing.T) {
	is := is.New(t)
	var (
		rec  sagatest.Recorder[Order]
		bank sagatest.Participant
	)
	sg := fulfil(&rec, &bank)
	d, err := durable.Register(durable.NewEngine(journal.NewMemory()), sg)
	is.NoErr(err)
	rec.FailAt("ship", errShip)
	rep, err := d.Run(saga.WithRunID(context.Background(), "f-1"), &Order{})
	is.True(errors.Is(err, errShip))
	is.Equal(rep.Status, saga.StatusCompensated)
	rec.AssertCompensated(t, sg, "f-1")
	is.Equal(bank.InEffect("f-1/"), []string(nil))
	is.NoErr(bank.Err())
}

// A process dies while ship runs; ship is not idempotent, so the next
// process compensates the run: ship first (its outcome is unknown), then
// charge and notify, then reserve — each once, across both processes.
func TestGraphCrashUnwinds(t *testing.T) {
	is := is.New(t)
	var (
		clk  sagatest.Clock
		rec  sagatest.Recorder[Order]
		bank sagatest.Participant
	)
	store := journal.NewMemory(journal.WithClock(clk.Now))
	sg := fulfil(&rec, &bank)
	dying := durable.NewEngine(sagatest.NewCrashingStore(store).CrashBefore(journal.StepSucceeded, "ship"),
		durable.WithOwner("dying"))
	d, err := durable.Register(dying, sg)
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(context.Background(), "f-2"), &Order{})
	is.True(errors.Is(err, sagatest.ErrCrashed))
	is.Equal(len(bank.InEffect("f-2/")), 4) // ship too: its end was lost

	next := durable.NewEngine(store, durable.WithOwner("next"))
	_, err = durable.Register(next, sg)
	is.NoErr(err)
	is.Equal(sagatest.Recover(t, next, &clk), 1)
	run, _, err := store.Load(context.Background(), "f-2")
	is.NoErr(err)
	is.Equal(run.Status, journal.Compensated)
	rec.AssertCompensated(t, sg, "f-2")
	is.Equal(bank.InEffect("f-2/"), []string(nil))
	is.NoErr(bank.Err())
}

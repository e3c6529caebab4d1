package durable_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

type traceKey struct{}

// tracePropagator carries the context's traceKey value, as a tracer's
// propagator carries its trace context.
type tracePropagator struct{}

func (tracePropagator) Inject(ctx context.Context, run saga.RunInfo) map[string]string {
	t, _ := ctx.Value(traceKey{}).(string)
	if t == "" {
		return nil
	}
	return map[string]string{"trace": t, "saga": run.Saga}
}

func (tracePropagator) Extract(ctx context.Context, run saga.RunInfo, carrier map[string]string) context.Context {
	if carrier["saga"] != run.Saga {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, carrier["trace"])
}

// traced records the traceKey value each step and compensation sees; the
// step named fail fails.
type traced struct {
	mu   sync.Mutex
	seen []string
	fail string
}

func (tr *traced) saga() *saga.Saga[Order] {
	step := func(name string) func(context.Context, *Order) error {
		return func(ctx context.Context, _ *Order) error {
			t, _ := ctx.Value(traceKey{}).(string)
			tr.mu.Lock()
			defer tr.mu.Unlock()
			tr.seen = append(tr.seen, name+" "+t)
			if name == tr.fail {
				return errShip
			}
			return nil
		}
	}
	return saga.New[Order]().Name("order").
		Step("reserve", step("reserve"), step("release")).
		Step("charge", step("charge"), step("refund")).
		Step("ship", step("ship"), nil).
		Build()
}

func (tr *traced) got() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.seen...)
}

// A run's carried context goes into its first entry and comes back when
// another worker recovers it after a crash.
func TestPropagatorAcrossCrash(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var tr traced
	dead := durable.NewEngine(crashAfter(store, 1), durable.WithOwner("dead"), durable.WithLeaseTTL(ttl),
		durable.WithPropagator(tracePropagator{}))
	d, err := durable.Register(dead, tr.saga())
	is.NoErr(err)
	ctx := context.WithValue(saga.WithRunID(context.Background(), "run-p"), traceKey{}, "t-1")
	_, err = d.Run(ctx, &Order{})
	is.True(errors.Is(err, errCrash))

	_, entries, err := store.Load(context.Background(), "run-p")
	is.NoErr(err)
	is.Equal(entries[0].Kind, journal.RunStarted)
	is.Equal(entries[0].Note, "saga=order&trace=t-1")

	worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl),
		durable.WithPropagator(tracePropagator{}))
	_, err = durable.Register(worker, tr.saga())
	is.NoErr(err)
	clk.advance(2 * ttl)
	n, err := worker.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 1)
	// charge's outcome was lost: it is not idempotent, so the run is
	// compensated, on the carried context too.
	want := []string{"reserve t-1", "charge t-1", "refund t-1", "release t-1"}
	if diff := cmp.Diff(want, tr.got()); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
}

// A run started for any worker carries the caller's context, and an
// operator's resume drives it on that context again.
func TestPropagatorStartAndResume(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	tr := traced{fail: "ship"}
	e := durable.NewEngine(store, durable.WithPropagator(tracePropagator{}))
	d, err := durable.Register(e, tr.saga(), durable.PauseOnFailure())
	is.NoErr(err)
	ctx := context.WithValue(saga.WithRunID(context.Background(), "run-s"), traceKey{}, "t-2")
	id, err := d.Start(ctx, &Order{})
	is.NoErr(err)
	_, err = e.Recover(context.Background(), 0)
	is.NoErr(err)
	run, _, err := store.Load(context.Background(), id)
	is.NoErr(err)
	is.Equal(run.Status, journal.Paused)

	tr.mu.Lock()
	tr.fail = ""
	tr.mu.Unlock()
	_, err = e.Resume(context.Background(), id, "courier back")
	is.NoErr(err)
	want := []string{"reserve t-2", "charge t-2", "ship t-2", "ship t-2"}
	if diff := cmp.Diff(want, tr.got()); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
}

// Without a propagator, or with one that has nothing to carry, the
// journal carries nothing.
func TestPropagatorNothingToCarry(t *testing.T) {
	is := is.New(t)
	for _, opts := range [][]durable.Option{nil, {durable.WithPropagator(tracePropagator{})}} {
		store := journal.NewMemory()
		var tr traced
		d, err := durable.Register(durable.NewEngine(store, opts...), tr.saga())
		is.NoErr(err)
		ctx := context.WithValue(saga.WithRunID(context.Background(), "run-n"), traceKey{}, "")
		_, err = d.Run(ctx, &Order{})
		is.NoErr(err)
		_, entries, err := store.Load(context.Background(), "run-n")
		is.NoErr(err)
		is.Equal(entries[0].Note, "")
	}
}

package durable_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// counter counts calls by name, for steps running at once.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
}

func (c *counter) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

// fanSaga is debit, then flight and hotel at once (each running body),
// then confirm.
func fanSaga(c *counter, body func(ctx context.Context, name string) error, opts ...saga.StepOption) *saga.Saga[Trip] {
	step := func(name string, field func(*Trip) *string) func(context.Context, *Trip) error {
		return func(ctx context.Context, t *Trip) error {
			c.inc(name)
			if err := body(ctx, name); err != nil {
				return err
			}
			*field(t) = name
			return nil
		}
	}
	undo := func(name string) func(context.Context, *Trip) error {
		return func(context.Context, *Trip) error { c.inc("undo " + name); return nil }
	}
	sibling := append([]saga.StepOption{saga.After("debit")}, opts...)
	return saga.New[Trip]().Name("fan").
		Step("debit", step("debit", func(t *Trip) *string { return &t.Debit }), undo("debit")).
		Step("flight", step("flight", func(t *Trip) *string { return &t.Flight }), undo("flight"), sibling...).
		Step("hotel", step("hotel", func(t *Trip) *string { return &t.Hotel }), undo("hotel"), sibling...).
		Step("confirm", step("confirm", func(t *Trip) *string { return &t.Car }), nil, saga.After("flight", "hotel")).
		Build()
}

// When the lease cannot be renewed, every sibling in flight sees its
// context end with ErrLeaseLost before the lease expires; nothing is
// written after their starts; another worker then compensates them (not
// idempotent: their outcome is unknown).
func TestGraphLeaseLostStopsEverySibling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := journal.NewMemory()
		var c counter
		var mu sync.Mutex
		causes := map[string]error{}
		long := func(ctx context.Context, name string) error {
			if name == "debit" {
				return nil
			}
			select {
			case <-ctx.Done():
				mu.Lock()
				causes[name] = context.Cause(ctx)
				mu.Unlock()
				return ctx.Err()
			case <-time.After(10 * ttl):
				return nil
			}
		}
		e := durable.NewEngine(unrenewable{store, errors.New("connection refused")}, durable.WithOwner("stalled"), durable.WithLeaseTTL(ttl))
		d, _ := durable.Register(e, fanSaga(&c, long))
		start := time.Now()
		_, err := d.Run(saga.WithRunID(context.Background(), "fan-1"), &Trip{})
		is.True(errors.Is(err, journal.ErrLeaseLost))
		is.True(time.Since(start) < ttl) // both stopped before the lease expired
		is.True(errors.Is(causes["flight"], journal.ErrLeaseLost))
		is.True(errors.Is(causes["hotel"], journal.ErrLeaseLost))
		_, entries, _ := store.Load(context.Background(), "fan-1")
		for _, e := range entries[len(entries)-2:] {
			is.Equal(e.Kind, journal.StepStarted) // nothing after the siblings' starts
		}
		is.Equal(c.get("undo debit"), 0)

		time.Sleep(ttl)
		worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
		_, _ = durable.Register(worker, fanSaga(&c, func(context.Context, string) error { return nil }))
		n, err := worker.Recover(context.Background(), 0)
		is.NoErr(err)
		is.Equal(n, 1)
		is.Equal(mustLoad(t, store, "fan-1").Status, journal.Compensated)
		for _, name := range []string{"debit", "flight", "hotel"} {
			is.Equal(c.get("undo "+name), 1) // unknown outcomes are undone, once
		}
		is.Equal(c.get("confirm"), 0)
	})
}

// A worker that stops while siblings run lets them finish (their ends are
// journaled), starts nothing after them, and leaves the run for another
// worker, which carries it on without running a step twice.
func TestGraphDrainLetsSiblingsFinish(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c counter
	started := barrier(2)
	release := make(chan struct{})
	body := func(ctx context.Context, name string) error {
		if name == "flight" || name == "hotel" {
			started()
			<-release // not interrupted by the worker's stop
		}
		return nil
	}
	e := durable.NewEngine(store, durable.WithOwner("first"))
	d, _ := durable.Register(e, fanSaga(&c, body))
	id, err := d.Start(saga.WithRunID(context.Background(), "fan-2"), &Trip{})
	is.NoErr(err)
	ctx, cancel := context.WithCancel(context.Background())
	worked := make(chan error, 1)
	go func() { worked <- e.Work(ctx, 0) }()
	for c.get("flight") == 0 || c.get("hotel") == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	close(release)
	is.True(errors.Is(<-worked, context.Canceled))

	run, entries, _ := store.Load(context.Background(), id)
	is.Equal(run.Status, journal.Running) // left for a worker
	is.Equal(run.LeaseOwner, "")
	ends := 0
	for _, e := range entries {
		if e.Kind == journal.StepSucceeded && (e.Step == "flight" || e.Step == "hotel") {
			ends++
		}
	}
	is.Equal(ends, 2)
	is.Equal(c.get("confirm"), 0)

	other := durable.NewEngine(store, durable.WithOwner("second"))
	_, err = durable.Register(other, fanSaga(&c, body))
	is.NoErr(err)
	n, err := other.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(mustLoad(t, store, id).Status, journal.Succeeded)
	for _, name := range []string{"debit", "flight", "hotel", "confirm"} {
		is.Equal(c.get(name), 1)
	}
}

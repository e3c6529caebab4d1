package otelsaga_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

const ttl = 30 * time.Second

// clock is the memory store's time, moved by hand to expire leases.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var errCrash = errors.New("simulated crash")

// crashing fails every Append after the first n, and every renewal and
// release after that: a process that dies at that write, leaving its run
// leased and unfinished.
type crashing struct {
	journal.Store
	left atomic.Int32
}

func (c *crashing) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	if c.left.Add(-1) < 0 {
		return errCrash
	}
	return c.Store.Append(ctx, runID, owner, u, entries...)
}

func (c *crashing) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	if c.left.Load() < 0 {
		return errCrash
	}
	return c.Store.Renew(ctx, runID, owner, ttl)
}

func (c *crashing) Release(ctx context.Context, runID, owner string) error {
	if c.left.Load() < 0 {
		return errCrash
	}
	return c.Store.Release(ctx, runID, owner)
}

func orderSaga(r *rig, opts ...saga.StepOption) *saga.Saga[Order] {
	return saga.New[Order]().Name("order").WithHooks(r.tel.Hooks()).
		Step("reserve", step("reserve"), step("release"), opts...).
		Step("charge", step("charge"), step("refund"), opts...).
		Step("ship", step("ship"), nil, opts...).
		Build()
}

// A run whose process dies mid-run, recovered by another worker, is one
// trace: the recovering worker's run span is a child of the first one
// (journaled with the run), whether or not that span was exported.
func TestTraceCrashRecoveredRun(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	clk := &clock{t: time.Now()}
	store := journal.NewMemory(journal.WithClock(clk.now))

	// Append 1 journals reserve's end and charge's start; the process
	// dies at the second (charge's end): charge's outcome is lost.
	dead := &crashing{Store: r.tel.Store(store)}
	dead.left.Store(1)
	e1 := durable.NewEngine(dead, durable.WithOwner("dead"), durable.WithLeaseTTL(ttl), durable.WithPropagator(r.tel))
	d1, err := durable.Register(e1, orderSaga(r, saga.Idempotent()))
	is.NoErr(err)
	_, err = d1.Run(saga.WithRunID(context.Background(), "run-1"), &Order{})
	is.True(errors.Is(err, errCrash))

	e2 := durable.NewEngine(r.tel.Store(store), durable.WithOwner("worker"), durable.WithLeaseTTL(ttl), durable.WithPropagator(r.tel))
	_, err = durable.Register(e2, orderSaga(r, saga.Idempotent()))
	is.NoErr(err)
	clk.advance(2 * ttl)
	n, err := e2.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 1)

	want := `run order ERROR saga.status=interrupted
  step reserve
  step charge
  run order saga.status=succeeded
    step charge
    step ship
`
	if diff := cmp.Diff(want, noErrors(r.tree(false, "saga.status", "saga.outcome"))); diff != "" {
		t.Fatalf("spans (-want +got):\n%s", diff)
	}
	runs := r.span("run order")
	is.Equal(len(runs), 2)
	first, second := runs[0], runs[1]
	is.Equal(second.Parent().SpanID(), first.SpanContext().SpanID())
	is.True(second.Parent().IsRemote()) // read back from the journal
	for _, s := range r.ended() {
		is.Equal(s.SpanContext().TraceID(), first.SpanContext().TraceID()) // one trace
	}
}

// A run started for any worker (Definition.Start) is a producer span
// under the caller's; every drive of the run, the first by a worker and
// the next one carrying out an operator's resume, is a child of it.
func TestTraceStartedRunAndResume(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	store := journal.NewMemory()
	e := durable.NewEngine(r.tel.Store(store), durable.WithPropagator(r.tel))
	ship := step("ship", errDeclined)
	d, err := durable.Register(e, saga.New[Order]().Name("order").WithHooks(r.tel.Hooks()).
		Step("reserve", step("reserve"), step("release")).
		Step("ship", ship, nil).
		Build(), durable.PauseOnFailure())
	is.NoErr(err)

	ctx, req := r.tp.Tracer("app").Start(context.Background(), "POST /orders")
	id, err := d.Start(ctx, &Order{})
	is.NoErr(err)
	req.End()
	_, err = e.Recover(context.Background(), 0) // a worker, with no trace of its own
	is.NoErr(err)
	_, err = e.Resume(context.Background(), id, "card replaced")
	is.NoErr(err)

	want := `POST /orders
  start order
    run order ERROR saga.status=paused
      step reserve
      step ship ERROR saga.outcome=failed [exception]
    run order saga.status=succeeded
      step ship
`
	if diff := cmp.Diff(want, noErrors(r.tree(false, "saga.status", "saga.outcome"))); diff != "" {
		t.Fatalf("spans (-want +got):\n%s", diff)
	}
}

// The engine's journal writes and leases are measured through its store,
// and the runs waiting for an operator through ObserveRuns.
func TestJournalMetrics(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	mem := journal.NewMemory()
	store := r.tel.Store(mem)
	reg, err := r.tel.ObserveRuns(store)
	is.NoErr(err)
	defer func() { is.NoErr(reg.Unregister()) }()
	e := durable.NewEngine(store, durable.WithOwner("me"))
	d, err := durable.Register(e, saga.New[Order]().Name("order").
		Step("reserve", step("reserve"), step("release")).
		Step("ship", step("ship", errDeclined), nil).
		Build(), durable.PauseOnFailure())
	is.NoErr(err)

	_, err = d.Run(saga.WithRunID(context.Background(), "run-1"), &Order{}) // pauses at ship
	is.True(err != nil)
	_, err = d.Start(saga.WithRunID(context.Background(), "run-2"), &Order{}) // pending
	is.NoErr(err)
	is.True(errors.Is(store.Append(context.Background(), "run-1", "intruder", journal.Update{}), journal.ErrLeaseLost))
	is.True(errors.Is(store.Renew(context.Background(), "run-1", "intruder", ttl), journal.ErrLeaseLost))

	_, entries, err := mem.Load(context.Background(), "run-1")
	is.NoErr(err)
	got := r.metrics()
	writes := only(got, "saga.journal.write.duration")
	is.Equal(writes["saga.journal.write.duration{saga.journal.operation=create}"], 2.0) // run-1, run-2
	appends := writes["saga.journal.write.duration{saga.journal.operation=append}"]
	is.True(appends >= 2)
	is.Equal(got["saga.journal.write.entries.sum{saga.journal.operation=create}"]+
		got["saga.journal.write.entries.sum{saga.journal.operation=append}"], float64(len(entries)+1)) // run-2: one entry
	want := map[string]float64{
		"saga.lease.claimed{saga.lease.via=create}":              1,
		"saga.lease.lost{saga.journal.operation=append}":         1,
		"saga.lease.lost{saga.journal.operation=renew}":          1,
		"saga.journal.runs{saga.name=order,saga.status=paused}":  1,
		"saga.journal.runs{saga.name=order,saga.status=pending}": 1,
	}
	for k := range only(got, "saga.lease") {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s", k)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}

	// A worker claims the pending run; an operator's verb acquires the
	// paused one.
	_, err = e.Recover(context.Background(), 0)
	is.NoErr(err)
	_, err = e.Resume(context.Background(), "run-1", "")
	is.NoErr(err)
	got = r.metrics()
	is.Equal(got["saga.lease.claimed{saga.lease.via=claim}"], 1.0)
	is.Equal(got["saga.lease.claimed{saga.lease.via=acquire}"], 1.0)
	is.Equal(len(only(got, "saga.journal.runs")), 0) // both have succeeded
}

// The measured store keeps the optional interfaces of the store it
// wraps, and adds none.
func TestStoreInterfaces(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	full := r.tel.Store(journal.NewMemory())
	_, w := full.(journal.Waker)
	_, p := full.(journal.Planner)
	_, s := full.(journal.Signaler)
	is.True(w && p && s)
	bare := r.tel.Store(struct{ journal.Store }{journal.NewMemory()})
	_, w = bare.(journal.Waker)
	_, p = bare.(journal.Planner)
	_, s = bare.(journal.Signaler)
	is.True(!w && !p && !s)
}

// A run that waits for an event ends its drive's span as waiting, its
// step suspended; the drive that the event wakes is the next span of the
// same trace.
func TestTraceWaitingRun(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	store := journal.NewMemory()
	e := durable.NewEngine(r.tel.Store(store), durable.WithPropagator(r.tel))
	d, err := durable.Register(e, saga.New[Order]().Name("order").WithHooks(r.tel.Hooks()).
		Step("reserve", step("reserve"), step("release")).
		Step("pay", func(ctx context.Context, o *Order) error {
			_, err := durable.Await[string](ctx, "paid", 0)
			return err
		}, nil).
		Build())
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(context.Background(), "run-w"), &Order{})
	is.True(errors.Is(err, durable.ErrWaiting))
	is.NoErr(e.Signal(context.Background(), "run-w", "paid", "tx-1"))
	_, err = e.Recover(context.Background(), 0)
	is.NoErr(err)

	want := `run order saga.status=waiting
  step reserve
  step pay saga.outcome=suspended
  run order saga.status=succeeded
    step pay
`
	if diff := cmp.Diff(want, r.tree(false, "saga.status", "saga.outcome")); diff != "" {
		t.Fatalf("spans (-want +got):\n%s", diff)
	}
	m := r.metrics()
	is.Equal(m["saga.run.ended{saga.name=order,saga.status=waiting}"], 1.0)
	is.Equal(m["saga.run.ended{saga.name=order,saga.status=succeeded}"], 1.0)
	is.Equal(m["saga.step.duration{saga.name=order,saga.outcome=suspended,saga.step=pay}"], 1.0)
	is.Equal(m["saga.run.active{saga.name=order}"], 0.0)
}

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

// Order is the state of the test sagas; it must survive JSON.
type Order struct {
	ID       string
	Steps    []string
	Undone   []string
	Keys     []string
	FailShip bool
}

var errShip = errors.New("courier unavailable")

type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) inc(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[s]++
	return c.n[s]
}

func (c *calls) get(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[s]
}

func orderSaga(c *calls, opts ...saga.StepOption) *saga.Saga[Order] {
	step := func(name string) func(context.Context, *Order) error {
		return func(ctx context.Context, o *Order) error {
			c.inc(name)
			o.Keys = append(o.Keys, durable.IdempotencyKey(ctx))
			if name == "ship" && o.FailShip {
				return errShip
			}
			o.Steps = append(o.Steps, name)
			return nil
		}
	}
	comp := func(name string) func(context.Context, *Order) error {
		return func(_ context.Context, o *Order) error {
			c.inc("undo " + name)
			o.Undone = append(o.Undone, name)
			return nil
		}
	}
	return saga.New[Order]().Name("order").
		Step("reserve", step("reserve"), comp("reserve")).
		Step("charge", step("charge"), comp("charge"), opts...).
		Step("ship", step("ship"), nil).
		Build()
}

func TestJournaledRunSucceeds(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	d, err := durable.Register(e, orderSaga(&c))
	is.NoErr(err)
	o := Order{ID: "o1"}
	rep, err := d.Run(saga.WithRunID(context.Background(), "run-1"), &o)
	is.NoErr(err)
	is.Equal(rep.Status, saga.StatusSucceeded)
	is.Equal(o.Keys, []string{"run-1/reserve/1", "run-1/charge/1", "run-1/ship/1"})

	run, entries, err := store.Load(context.Background(), "run-1")
	is.NoErr(err)
	is.Equal(run.Status, journal.Succeeded)
	is.Equal(run.Saga, "order")
	is.Equal(run.Fingerprint, d.Saga().Plan().Fingerprint())
	is.True(!run.Ended.IsZero())
	want := []string{"run_started", "step_started reserve", "step_succeeded reserve", "step_started charge",
		"step_succeeded charge", "step_started ship", "step_succeeded ship", "run_ended"}
	if diff := cmp.Diff(want, kinds(entries)); diff != "" {
		t.Fatalf("journal (-want +got):\n%s", diff)
	}
	var last Order
	is.NoErr(jsonDecode(run.State, &last))
	is.Equal(last.Steps, []string{"reserve", "charge", "ship"}) // the latest snapshot
}

// A step's end and the next step's start share one write: one commit per step.
func TestOneWritePerStep(t *testing.T) {
	is := is.New(t)
	counting := &countingStore{Store: journal.NewMemory()}
	e := durable.NewEngine(counting)
	var c calls
	d, _ := durable.Register(e, orderSaga(&c))
	_, err := d.Run(context.Background(), &Order{})
	is.NoErr(err)
	is.Equal(counting.creates, 1) // with the start of reserve
	is.Equal(counting.appends, 3) // end reserve + start charge; end charge + start ship; end ship + run ended
}

func TestJournaledFailureCompensates(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	d, _ := durable.Register(e, orderSaga(&c))
	o := Order{FailShip: true}
	rep, err := d.Run(saga.WithRunID(context.Background(), "run-2"), &o)
	is.True(errors.Is(err, errShip))
	is.Equal(rep.Status, saga.StatusCompensated)
	run, entries, _ := store.Load(context.Background(), "run-2")
	is.Equal(run.Status, journal.Compensated)
	is.True(run.Error != "")
	want := []string{"run_started", "step_started reserve", "step_succeeded reserve", "step_started charge",
		"step_succeeded charge", "step_started ship", "step_failed ship",
		"compensation_started charge", "compensation_succeeded charge",
		"compensation_started reserve", "compensation_succeeded reserve", "run_ended"}
	if diff := cmp.Diff(want, kinds(entries)); diff != "" {
		t.Fatalf("journal (-want +got):\n%s", diff)
	}
}

func TestCodecErrorFailsBeforeAnyStep(t *testing.T) {
	is := is.New(t)
	type bad struct{ C chan int }
	ran := false
	sg := saga.New[bad]().Name("bad").Step("x", func(context.Context, *bad) error { ran = true; return nil }, nil).Build()
	store := journal.NewMemory()
	d, err := durable.Register(durable.NewEngine(store), sg)
	is.NoErr(err)
	rep, err := d.Run(context.Background(), &bad{C: make(chan int)})
	is.True(err != nil)
	is.True(!ran) // no step ran
	is.Equal(rep.Status, saga.StatusFailed)
	runs, _ := store.List(context.Background(), journal.Filter{})
	is.Equal(len(runs), 0) // nothing journaled
}

func TestRegisterErrors(t *testing.T) {
	is := is.New(t)
	e := durable.NewEngine(journal.NewMemory())
	var c calls
	_, err := durable.Register(e, saga.New[Order]().Step("x", func(context.Context, *Order) error { return nil }, nil).Build())
	is.True(err != nil) // no name
	_, err = durable.Register(e, orderSaga(&c))
	is.NoErr(err)
	_, err = durable.Register(e, orderSaga(&c))
	is.True(err != nil) // duplicate
	_, err = durable.Register(e, orderSaga(&c), durable.WithCodec[int](nil))
	is.True(err != nil) // codec of another type
}

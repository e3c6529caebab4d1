package durable_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// A signal and the deadline at once: the event wins, the wait does not
// time out.
func TestAwaitSignalAtTheDeadline(t *testing.T) {
	is := is.New(t)
	s := newShop(t)
	_, _ = s.d.Run(saga.WithRunID(context.Background(), "order-1"), &Shop{})
	s.clk.advance(30 * time.Minute)
	is.NoErr(s.e.Signal(context.Background(), "order-1", "paid", Payment{ID: "late"}))
	is.Equal(s.recover(t), 1)
	is.Equal(mustLoad(t, s.store, "order-1").Status, journal.Succeeded)
	is.Equal(s.c.get("paid"), 1)
}

// lateSignals is a store that delivers a signal right after a step read
// the run's signals and found none: the signal comes between the step's
// look and its wait being journaled.
type lateSignals struct {
	*journal.Memory
	deliver func()
}

func (s *lateSignals) Signals(ctx context.Context, runID string) ([]journal.Signal, error) {
	sigs, err := s.Memory.Signals(ctx, runID)
	if s.deliver != nil {
		d := s.deliver
		s.deliver = nil
		d()
	}
	return sigs, err
}

// A signal that comes while the step decides to wait is not lost: the run
// is woken as it is journaled waiting.
func TestAwaitSignalWhileParking(t *testing.T) {
	is := is.New(t)
	mem := journal.NewMemory()
	store := &lateSignals{Memory: mem}
	var c counter
	e := durable.NewEngine(store)
	d, err := durable.Register(e, shopSaga(&c))
	is.NoErr(err)
	store.deliver = func() {
		_, err := mem.Signal(context.Background(), "order-2", journal.Signal{Event: "paid", Payload: []byte(`{"ID":"racer"}`)})
		is.NoErr(err)
	}
	_, err = d.Run(saga.WithRunID(context.Background(), "order-2"), &Shop{})
	is.True(errors.Is(err, durable.ErrWaiting))
	run := mustLoad(t, mem, "order-2")
	is.Equal(run.Status, journal.Waiting)
	is.True(run.Wait.Woken) // claimable at once
	n, err := e.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(mustLoad(t, mem, "order-2").Status, journal.Succeeded)
}

// A step of a graph run waits while its siblings go on; the run waits once
// they end, and the signal carries it to its end.
func TestGraphStepAwaits(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c counter
	e := durable.NewEngine(store)
	d, err := durable.Register(e, fanSaga(&c, func(ctx context.Context, name string) error {
		if name != "hotel" {
			return nil
		}
		_, err := durable.Await[string](ctx, "hotel-confirmed", time.Hour)
		return err
	}))
	is.NoErr(err)
	var trip Trip
	_, err = d.Run(saga.WithRunID(context.Background(), "fan-w"), &trip)
	is.True(errors.Is(err, durable.ErrWaiting))
	run := mustLoad(t, store, "fan-w")
	is.Equal(run.Status, journal.Waiting)
	is.Equal(run.Wait.Event, "hotel-confirmed")
	is.Equal(c.get("flight"), 1) // the sibling went on
	is.Equal(c.get("confirm"), 0)

	is.NoErr(e.Signal(context.Background(), "fan-w", "hotel-confirmed", "HX-1"))
	n, err := e.Recover(context.Background(), 0)
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(mustLoad(t, store, "fan-w").Status, journal.Succeeded)
	is.Equal(c.get("flight"), 1) // not again
	is.Equal(c.get("hotel"), 2)  // before its wait, and when woken
	is.Equal(c.get("confirm"), 1)
	view, err := durable.Inspect(context.Background(), store, "fan-w")
	is.NoErr(err)
	var got Trip
	is.NoErr(jsonDecode(view.State, &got))
	is.Equal(got.Flight, "flight")
	is.Equal(got.Hotel, "hotel")
}

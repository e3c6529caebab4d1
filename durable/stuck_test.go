package durable_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// A graph step fails while a sibling waits for an event: the run is
// compensated, the waiting step too (it may have taken effect before its
// wait), not left failed.
func TestGraphFailureWhileASiblingWaits(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	var c counter
	errFull := errors.New("hotel full")
	e := durable.NewEngine(store)
	d, err := durable.Register(e, fanSaga(&c, func(ctx context.Context, name string) error {
		switch name {
		case "flight":
			_, err := durable.Await[string](ctx, "seat-confirmed", time.Hour)
			return err
		case "hotel":
			for c.get("flight") == 0 { // fail once flight waits
				time.Sleep(time.Millisecond)
			}
			return errFull
		}
		return nil
	}))
	is.NoErr(err)
	_, err = d.Run(saga.WithRunID(context.Background(), "fan-f"), &Trip{})
	is.True(errors.Is(err, errFull))
	run := mustLoad(t, store, "fan-f")
	is.Equal(run.Status, journal.Compensated)
	is.Equal(c.get("undo flight"), 1)
	is.Equal(c.get("undo debit"), 1)
	is.Equal(c.get("undo hotel"), 0)
}

// A run journaled as compensating past its pivot (nothing may be undone)
// is paused for a person, not claimed again and again.
func TestCompensatingPastPivotPauses(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	var c calls
	sg := pivotSaga(&c, true)
	run := journal.Run{ID: "p-1", Saga: sg.Name(), Fingerprint: sg.Plan().Fingerprint(), Status: journal.Compensating,
		State: []byte(`{}`)}
	is.NoErr(store.Create(context.Background(), run,
		journal.Entry{Kind: journal.RunStarted, State: []byte(`{}`)},
		journal.Entry{Kind: journal.StepStarted, Step: "reserve", Attempt: 1},
		journal.Entry{Kind: journal.StepSucceeded, Step: "reserve", Attempt: 1, State: []byte(`{}`)},
		journal.Entry{Kind: journal.StepStarted, Step: "charge", Attempt: 1},
		journal.Entry{Kind: journal.StepSucceeded, Step: "charge", Attempt: 1, State: []byte(`{}`)},
	))
	e := durable.NewEngine(store, durable.WithLeaseTTL(ttl))
	_, _ = durable.Register(e, sg)
	n, _ := e.Recover(context.Background(), 0)
	is.Equal(n, 1)
	got := mustLoad(t, store, "p-1")
	is.Equal(got.Status, journal.Paused)
	is.True(strings.Contains(got.Error, durable.ErrPastPivot.Error()))
	n, _ = e.Recover(context.Background(), 0)
	is.Equal(n, 0) // not claimed again
	is.Equal(c.get("undo reserve"), 0)
}

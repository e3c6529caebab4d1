package durable_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

func TestInspect(t *testing.T) {
	is := is.New(t)
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	var c calls
	d, _ := durable.Register(e, orderSaga(&c), durable.PauseOnFailure())
	_, _ = d.Run(saga.WithRunID(context.Background(), "run-i"), &Order{FailShip: true})

	v, err := durable.Inspect(context.Background(), store, "run-i")
	is.NoErr(err)
	is.Equal(v.Run.Status, journal.Paused)
	is.Equal(v.Report.Status, saga.StatusPaused)
	is.Equal(len(v.Report.Steps), 3)
	ship, _ := v.Report.Step("ship")
	is.Equal(ship.Status, saga.StepFailed)
	is.True(strings.Contains(ship.Err.Error(), "courier unavailable"))
	is.True(!ship.Start.IsZero())
	is.True(strings.Contains(v.Report.String(), "ship     failed")) // the inspect table

	_, err = durable.Inspect(context.Background(), store, "nope")
	is.True(errors.Is(err, journal.ErrNotFound))
}

package otelsaga_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/sagakit/sagakit/otelsaga"
	"github.com/sagakit/sagakit/saga"
)

// The metrics after a known workload: a run that succeeds after a retry,
// one compensated, one whose compensation fails.
func TestMetrics(t *testing.T) {
	r := newRig(t)
	h := r.tel.Hooks()
	order := func(ship func(context.Context, *Order) error) *saga.Saga[Order] {
		return saga.New[Order]().Name("order").WithHooks(h).
			Step("reserve", step("reserve"), step("release")).
			Step("charge", step("charge", errFlaky), step("refund"), saga.Retry(twice)).
			Step("ship", ship, nil).
			Build()
	}
	transfer := saga.New[Order]().Name("transfer").WithHooks(h).WithCompensationRetry(twice).
		Step("debit", step("debit"), step("undo debit", errFlaky, errFlaky)).
		Step("credit", step("credit", errDeclined), nil).
		Build()
	ctx := context.Background()
	_, _ = order(step("ship")).Run(ctx, &Order{})
	_, _ = order(step("ship", errDeclined)).Run(ctx, &Order{})
	_, _ = transfer.Run(ctx, &Order{})

	want := map[string]float64{
		"saga.run.started{saga.name=order}":                                     2,
		"saga.run.started{saga.name=transfer}":                                  1,
		"saga.run.active{saga.name=order}":                                      0,
		"saga.run.active{saga.name=transfer}":                                   0,
		"saga.run.ended{saga.name=order,saga.status=succeeded}":                 1,
		"saga.run.ended{saga.name=order,saga.status=compensated}":               1,
		"saga.run.ended{saga.name=transfer,saga.status=compensation_failed}":    1,
		"saga.run.duration{saga.name=order,saga.status=succeeded}":              1,
		"saga.run.duration{saga.name=order,saga.status=compensated}":            1,
		"saga.run.duration{saga.name=transfer,saga.status=compensation_failed}": 1,

		"saga.step.duration{saga.name=order,saga.outcome=succeeded,saga.step=reserve}":  2,
		"saga.step.duration{saga.name=order,saga.outcome=succeeded,saga.step=charge}":   2, // its retry included
		"saga.step.duration{saga.name=order,saga.outcome=succeeded,saga.step=ship}":     1,
		"saga.step.duration{saga.name=order,saga.outcome=failed,saga.step=ship}":        1,
		"saga.step.duration{saga.name=transfer,saga.outcome=succeeded,saga.step=debit}": 1,
		"saga.step.duration{saga.name=transfer,saga.outcome=failed,saga.step=credit}":   1,

		"saga.step.retries{saga.name=order,saga.phase=action,saga.step=charge}":         2, // one per run of order
		"saga.step.retries{saga.name=transfer,saga.phase=compensation,saga.step=debit}": 1,

		"saga.compensation.ended{saga.name=order,saga.outcome=compensated,saga.step=charge}":  1,
		"saga.compensation.ended{saga.name=order,saga.outcome=compensated,saga.step=reserve}": 1,
		"saga.compensation.ended{saga.name=transfer,saga.outcome=failed,saga.step=debit}":     1,
	}
	if diff := cmp.Diff(want, only(r.metrics(), "saga.")); diff != "" {
		t.Fatalf("metrics (-want +got):\n%s", diff)
	}
}

// A no-op provider turns its half off: with a no-op tracer provider no
// span is made, and the metrics go on; with a no-op meter provider, the
// reverse.
func TestNoopProviders(t *testing.T) {
	is := is.New(t)
	run := func(tel *otelsaga.Telemetry) {
		sg := saga.New[Order]().Name("order").WithHooks(tel.Hooks()).Step("x", step("x"), nil).Build()
		_, err := sg.Run(context.Background(), &Order{})
		is.NoErr(err)
	}
	r := newRig(t)
	run(r.telemetry(tracenoop.NewTracerProvider(), r.mp))
	is.Equal(len(r.spans.Started()), 0)
	is.Equal(r.metrics()["saga.run.ended{saga.name=order,saga.status=succeeded}"], 1.0)

	r = newRig(t)
	run(r.telemetry(r.tp, metricnoop.NewMeterProvider()))
	is.Equal(len(r.ended()), 2)
	is.Equal(len(r.metrics()), 0)
}

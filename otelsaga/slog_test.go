package otelsaga_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/otelsaga"
	"github.com/sagakit/sagakit/saga"
)

// A record written during a step names the step's span; the saga's own
// records name the span of what they tell (the run's end: the run's).
func TestHandlerJoinsLogsAndTraces(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	var buf bytes.Buffer
	logger := slog.New(otelsaga.Handler(slog.NewJSONHandler(&buf, nil))).With("service", "shop")
	sg := saga.New[Order]().Name("order").WithHooks(r.tel.Hooks()).WithLogger(logger).
		Step("charge", func(ctx context.Context, _ *Order) error {
			logger.InfoContext(ctx, "charging")
			return nil
		}, nil).
		Build()
	_, err := sg.Run(context.Background(), &Order{})
	is.NoErr(err)
	logger.Info("no span")

	type line struct {
		Msg     string `json:"msg"`
		Service string `json:"service"`
		TraceID string `json:"trace_id"`
		SpanID  string `json:"span_id"`
	}
	var got []line
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var l line
		is.NoErr(dec.Decode(&l))
		got = append(got, l)
	}
	run, charge := r.span("run order")[0].SpanContext(), r.span("step charge")[0].SpanContext()
	want := []line{
		{Msg: "charging", Service: "shop", TraceID: charge.TraceID().String(), SpanID: charge.SpanID().String()},
		{Msg: "saga ended", Service: "shop", TraceID: run.TraceID().String(), SpanID: run.SpanID().String()},
		{Msg: "no span", Service: "shop"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
}

package otelsaga_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/sagakit/sagakit/parallel"
	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

var (
	// twice retries once, at once.
	twice = retry.Policy{MaxAttempts: 2, InitialInterval: -1}
	// keys are the attributes the trees show.
	keys = []string{"saga.status", "saga.outcome", "saga.attempts", "saga.attempt", "saga.retry.delay", "saga.retry.error", "saga.cause"}
)

// A run is a span; each step's execution is a child span, its retries
// events on it.
func TestTraceSuccess(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	sg := saga.New[Order]().Name("order").WithHooks(r.tel.Hooks()).
		Step("reserve", step("reserve"), step("release")).
		Step("charge", step("charge", errFlaky), step("refund"), saga.Retry(twice)).
		Step("ship", step("ship"), nil).
		Build()
	rep, err := sg.Run(context.Background(), &Order{})
	is.NoErr(err)

	want := `run order saga.status=succeeded
  step reserve
  step charge saga.attempts=2 [retry saga.attempt=1 saga.retry.delay=0 saga.retry.error=connection reset]
  step ship
`
	if diff := cmp.Diff(want, r.tree(false, keys...)); diff != "" {
		t.Fatalf("spans (-want +got):\n%s", diff)
	}
	run := r.span("run order")[0]
	is.Equal(run.SpanKind(), trace.SpanKindInternal)
	var id string
	for _, kv := range run.Attributes() {
		if kv.Key == "saga.run.id" {
			id = kv.Value.AsString()
		}
	}
	is.Equal(id, rep.RunID)
	for _, s := range r.ended() {
		is.Equal(s.SpanContext().TraceID(), run.SpanContext().TraceID()) // one trace
	}
}

// A failed step records its error and an error status; each compensation
// is a span of its own, after an event on the run's span; a compensation
// that fails for good is an error too.
func TestTraceFailureAndCompensation(t *testing.T) {
	r := newRig(t)
	sg := saga.New[Order]().Name("order").WithHooks(r.tel.Hooks()).
		WithCompensationRetry(twice).
		Step("reserve", step("reserve"), step("release")).
		Step("charge", step("charge"), step("refund", errFlaky, errFlaky)).
		Step("notify", step("notify"), nil).
		Step("ship", step("ship", errDeclined), nil).
		Build()
	_, err := sg.Run(context.Background(), &Order{})
	if err == nil {
		t.Fatal("want the run to fail")
	}
	want := `run order ERROR(saga "order": step "ship" failed: card declined (compensation_failed; 1 compensation(s) failed: compensating "charge": retry: gave up after 2 attempts (exhausted): connection reset)) saga.status=compensation_failed [compensation started saga.cause=card declined]
  step reserve
  step charge
  step notify
  step ship ERROR(card declined) saga.attempts=1 saga.outcome=failed [exception]
  compensate charge ERROR(retry: gave up after 2 attempts (exhausted): connection reset) saga.attempts=2 [retry saga.attempt=1 saga.retry.delay=0 saga.retry.error=connection reset] [exception]
  compensate reserve
`
	if diff := cmp.Diff(want, r.tree(false, keys...)); diff != "" {
		t.Fatalf("spans (-want +got):\n%s", diff)
	}
}

// The parallel runner's sibling steps are sibling spans that overlap in
// time; a failure cancels the running siblings, which end cancelled, not
// failed, and what ran is compensated.
func TestTraceParallelFanOut(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	// The three legs wait for each other, so that they surely overlap.
	var legs sync.WaitGroup
	legs.Add(3)
	leg := func(name string) func(context.Context, *Order) error {
		return func(ctx context.Context, o *Order) error {
			o.add(name)
			legs.Done()
			legs.Wait()
			return nil
		}
	}
	sg := saga.New[Order]().Name("trip").WithHooks(r.tel.Hooks()).
		Step("plan", step("plan"), nil).
		Step("flight", leg("flight"), step("cancel flight"), saga.After("plan")).
		Step("hotel", leg("hotel"), step("cancel hotel"), saga.After("plan")).
		Step("car", leg("car"), step("cancel car"), saga.After("plan")).
		Step("confirm", step("confirm"), nil, saga.After("flight", "hotel", "car")).
		Build()
	_, err := parallel.Run(context.Background(), sg, &Order{})
	is.NoErr(err)
	want := `run trip saga.status=succeeded
  step car
  step confirm
  step flight
  step hotel
  step plan
`
	if diff := cmp.Diff(want, r.tree(true, "saga.status", "saga.outcome")); diff != "" {
		t.Fatalf("spans (-want +got):\n%s", diff)
	}
	siblings := append(append(r.span("step flight"), r.span("step hotel")...), r.span("step car")...)
	is.True(overlap(siblings))
	plan, confirm := r.span("step plan")[0], r.span("step confirm")[0]
	for _, s := range siblings {
		is.True(!s.StartTime().Before(plan.EndTime()))    // after plan
		is.True(!confirm.StartTime().Before(s.EndTime())) // before confirm
	}
}

func TestTraceParallelFailure(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	started := make(chan struct{})
	slow := func(ctx context.Context, o *Order) error {
		close(started)
		<-ctx.Done() // cancelled when its sibling fails
		return context.Cause(ctx)
	}
	failing := func(ctx context.Context, o *Order) error {
		<-started
		return errDeclined
	}
	sg := saga.New[Order]().Name("trip").WithHooks(r.tel.Hooks()).
		Step("plan", step("plan"), step("unplan")).
		Step("flight", slow, step("cancel flight"), saga.After("plan")).
		Step("hotel", failing, step("cancel hotel"), saga.After("plan")).
		Build()
	_, err := parallel.Run(context.Background(), sg, &Order{})
	is.True(err != nil)
	want := `run trip ERROR(saga "trip": step "hotel" failed: card declined (compensated)) saga.status=compensated [compensation started]
  compensate plan
  step flight saga.outcome=cancelled [cancelled]
  step hotel ERROR(card declined) saga.outcome=failed [exception]
  step plan
`
	if diff := cmp.Diff(want, r.tree(true, "saga.status", "saga.outcome")); diff != "" {
		t.Fatalf("spans (-want +got):\n%s", diff)
	}
}

// The step's span is the current span of the step's context: the calls a
// step makes (a traced HTTP client, a database driver) are its children.
func TestTraceStepContext(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	var inStep trace.SpanContext
	sg := saga.New[Order]().Name("order").WithHooks(r.tel.Hooks()).
		Step("charge", func(ctx context.Context, _ *Order) error {
			inStep = trace.SpanContextFromContext(ctx)
			return nil
		}, nil).
		Build()
	_, err := sg.Run(context.Background(), &Order{})
	is.NoErr(err)
	is.Equal(inStep, r.span("step charge")[0].SpanContext())
}

// A caller's span is the run's parent.
func TestTraceCallerSpan(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	sg := saga.New[Order]().Name("order").WithHooks(r.tel.Hooks()).Step("x", step("x"), nil).Build()
	ctx, parent := r.tp.Tracer("app").Start(context.Background(), "POST /orders")
	_, err := sg.Run(ctx, &Order{})
	is.NoErr(err)
	parent.End()
	want := `POST /orders
  run order
    step x
`
	if diff := cmp.Diff(want, r.tree(false)); diff != "" {
		t.Fatalf("spans (-want +got):\n%s", diff)
	}
}

// A step that runs another saga: the inner run is a child of the step's
// span, and each run's hooks end their own spans.
func TestTraceNestedRun(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	payment := saga.New[Order]().Name("payment").WithHooks(r.tel.Hooks()).
		Step("authorize", step("authorize"), nil).
		Step("capture", step("capture", errDeclined), nil).
		Build()
	order := saga.New[Order]().Name("order").WithHooks(r.tel.Hooks()).
		Step("reserve", step("reserve"), step("release")).
		Step("pay", func(ctx context.Context, o *Order) error {
			_, err := payment.Run(ctx, &Order{})
			return err
		}, nil).
		Build()
	_, err := order.Run(context.Background(), &Order{})
	is.True(err != nil)
	want := `run order ERROR saga.status=compensated [compensation started]
  step reserve
  step pay ERROR saga.outcome=failed [exception]
    run payment ERROR saga.status=compensated [compensation started]
      step authorize
      step capture ERROR saga.outcome=failed [exception]
  compensate reserve
`
	if diff := cmp.Diff(want, noErrors(r.tree(false, "saga.status", "saga.outcome"))); diff != "" {
		t.Fatalf("spans (-want +got):\n%s", diff)
	}
}

// A run the sampler leaves out makes no span, its steps neither; the
// metrics are recorded all the same.
func TestTraceUnsampled(t *testing.T) {
	is := is.New(t)
	r := newRig(t)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()), sdktrace.WithSpanProcessor(r.spans))
	tel := r.telemetry(tp, r.mp)
	sg := saga.New[Order]().Name("order").WithHooks(tel.Hooks()).
		Step("reserve", step("reserve"), step("release")).
		Step("ship", step("ship", errDeclined), nil).
		Build()
	_, err := sg.Run(context.Background(), &Order{})
	is.True(err != nil)
	is.Equal(len(r.spans.Started()), 0)
	m := r.metrics()
	is.Equal(m["saga.run.ended{saga.name=order,saga.status=compensated}"], 1.0)
	is.Equal(m["saga.step.duration{saga.name=order,saga.outcome=failed,saga.step=ship}"], 1.0)
	is.Equal(m["saga.compensation.ended{saga.name=order,saga.outcome=compensated,saga.step=reserve}"], 1.0)
}

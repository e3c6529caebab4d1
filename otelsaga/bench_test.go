package otelsaga_test

import (
	"context"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/sagakit/sagakit/otelsaga"
	"github.com/sagakit/sagakit/saga"
)

const benchSteps = 10

// BenchmarkStep runs a saga of ten steps that do nothing and reports the
// cost per step of each setup, in wall time (ns/step) and in the CPU
// time of all the process's threads (cpu-ns/step: where other processes
// share the cores, the steadier figure); a setup's overhead is its cost
// less that of "none":
//
//   - none: no hooks, the core's cost;
//   - noop: a Telemetry of no-op tracer and meter providers (tracing and
//     metrics off: the hooks make nothing);
//   - traces: the SDK's tracer, every span sampled and exported to a
//     no-op exporter, no metrics;
//   - traces-unsampled: the SDK's tracer, the run not sampled (as most
//     runs are under a ratio sampler), no metrics;
//   - metrics: the SDK's meter (a manual reader), no traces;
//   - traces+metrics: both.
func BenchmarkStep(b *testing.B) {
	sdkTraces := func() *sdktrace.TracerProvider {
		return sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	}
	sdkMetrics := func() *sdkmetric.MeterProvider {
		return sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	}
	setups := []struct {
		name  string
		hooks func() *saga.Hooks
	}{
		{"none", func() *saga.Hooks { return nil }},
		{"noop", func() *saga.Hooks {
			return telemetry(b, &otelsaga.Options{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()})
		}},
		{"traces", func() *saga.Hooks {
			return telemetry(b, &otelsaga.Options{TracerProvider: sdkTraces(), MeterProvider: metricnoop.NewMeterProvider()})
		}},
		{"traces-unsampled", func() *saga.Hooks {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()), sdktrace.WithSyncer(tracetest.NewNoopExporter()))
			return telemetry(b, &otelsaga.Options{TracerProvider: tp, MeterProvider: metricnoop.NewMeterProvider()})
		}},
		{"metrics", func() *saga.Hooks {
			return telemetry(b, &otelsaga.Options{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: sdkMetrics()})
		}},
		{"traces+metrics", func() *saga.Hooks {
			return telemetry(b, &otelsaga.Options{TracerProvider: sdkTraces(), MeterProvider: sdkMetrics()})
		}},
	}
	nop := func(context.Context, *Order) error { return nil }
	for _, s := range setups {
		b.Run(s.name, func(b *testing.B) {
			bld := saga.New[Order]().Name("bench")
			if h := s.hooks(); h != nil {
				bld.WithHooks(h)
			}
			for i := range benchSteps {
				bld.Step("s"+strconv.Itoa(i), nop, nop)
			}
			sg := bld.Build()
			ctx := context.Background()
			var o Order
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if _, err := sg.Run(ctx, &o); err != nil {
					b.Fatal(err)
				}
			}
			cpu = cpuTime() - cpu
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchSteps, "ns/step")
			if cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/benchSteps, "cpu-ns/step")
			}
		})
	}
}

func telemetry(b *testing.B, o *otelsaga.Options) *saga.Hooks {
	tel, err := otelsaga.New(o)
	if err != nil {
		b.Fatal(err)
	}
	return tel.Hooks()
}

// BenchmarkSDKSpan is the floor of a step's span: the SDK's tracer
// starting and ending a child span with two attributes, exported to a
// no-op exporter, with nothing of this package.
func BenchmarkSDKSpan(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	tr := tp.Tracer("bench")
	ctx, run := tr.Start(context.Background(), "run")
	defer run.End()
	opts := []trace.SpanStartOption{trace.WithAttributes(attribute.String("saga.name", "bench"), attribute.String("saga.step", "s1"))}
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		_, sp := tr.Start(ctx, "step s1", opts...)
		sp.End()
	}
	if cpu = cpuTime() - cpu; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

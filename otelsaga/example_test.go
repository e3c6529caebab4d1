package otelsaga_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"strings"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sagakit/sagakit/otelsaga"
	"github.com/sagakit/sagakit/saga"
)

// Traces exported to standard output: a run whose second step fails, and
// the compensation of the first.
//
// To send them to a collector (Jaeger, Tempo, …) over OTLP instead, make
// the exporter with go.opentelemetry.io/otel/exporters/otlp/otlptrace/
// otlptracegrpc (or otlptracehttp): exp, err := otlptracegrpc.New(ctx),
// configured by the OTEL_EXPORTER_OTLP_ENDPOINT environment variable and
// its kin, and register it with sdktrace.WithBatcher(exp). Metrics go the
// same way, through an OTLP metric exporter and a periodic reader of
// go.opentelemetry.io/otel/sdk/metric.
func Example() {
	// A program writes to os.Stdout, stdouttrace's default; the example
	// writes to a buffer to show the spans in brief.
	var out bytes.Buffer
	exp, err := stdouttrace.New(stdouttrace.WithWriter(&out))
	if err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)) // a program: sdktrace.WithBatcher(exp)
	defer func() { _ = tp.Shutdown(context.Background()) }()

	tel, err := otelsaga.New(&otelsaga.Options{TracerProvider: tp})
	if err != nil {
		log.Fatal(err)
	}
	sg := saga.New[struct{}]().Name("order").WithHooks(tel.Hooks()).
		Step("reserve", func(context.Context, *struct{}) error { return nil },
			func(context.Context, *struct{}) error { return nil }).
		Step("charge", func(context.Context, *struct{}) error { return errors.New("card declined") }, nil).
		Build()
	_, err = sg.Run(context.Background(), &struct{}{})
	fmt.Println(err)

	// The exporter wrote one JSON object per span, as each span ended.
	type span struct {
		Name        string
		SpanContext struct{ SpanID string }
		Parent      struct{ SpanID string }
		Status      struct{ Code, Description string }
	}
	var spans []span
	names := map[string]string{}
	for dec := json.NewDecoder(&out); dec.More(); {
		var s span
		if err := dec.Decode(&s); err != nil {
			log.Fatal(err)
		}
		spans = append(spans, s)
		names[s.SpanContext.SpanID] = s.Name
	}
	for _, s := range spans {
		path := s.Name
		if parent, ok := names[s.Parent.SpanID]; ok {
			path = parent + " > " + path
		}
		fmt.Println(strings.TrimSpace(path + ": " + s.Status.Code + " " + s.Status.Description))
	}
	// Output:
	// saga "order": step "charge" failed: card declined (compensated)
	// run order > step reserve: Unset
	// run order > step charge: Error card declined
	// run order > compensate reserve: Unset
	// run order: Error saga "order": step "charge" failed: card declined (compensated)
}

package otelsaga_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sagakit/sagakit/otelsaga"
)

// rig is a Telemetry on the SDK's in-memory span recorder and manual
// metric reader.
type rig struct {
	t      *testing.T
	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tel    *otelsaga.Telemetry
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	r.tp, r.mp = tp, mp
	r.tel = r.telemetry(tp, mp)
	return r
}

// telemetry returns a Telemetry of the providers given.
func (r *rig) telemetry(tp trace.TracerProvider, mp metric.MeterProvider) *otelsaga.Telemetry {
	r.t.Helper()
	tel, err := otelsaga.New(&otelsaga.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		r.t.Fatal(err)
	}
	return tel
}

// ended returns the ended spans, failing the test if a span was started
// and never ended.
func (r *rig) ended() []sdktrace.ReadOnlySpan {
	r.t.Helper()
	ended := r.spans.Ended()
	if started := r.spans.Started(); len(started) != len(ended) {
		var open []string
		for _, s := range started {
			if s.EndTime().IsZero() {
				open = append(open, s.Name())
			}
		}
		r.t.Fatalf("%d spans started, %d ended; open: %v", len(started), len(ended), open)
	}
	return ended
}

// tree draws the ended spans as a tree, one line a span: its name, its
// status if it is an error, the attributes in keys, then its events;
// siblings in the order they started, or by name if sortByName. Each
// trace is drawn from its roots, after a line "trace".
func (r *rig) tree(sortByName bool, keys ...string) string {
	r.t.Helper()
	spans := r.ended()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	kids := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if _, ok := byID[s.Parent().SpanID()]; ok && s.Parent().IsValid() {
			kids[s.Parent().SpanID()] = append(kids[s.Parent().SpanID()], s)
		} else {
			roots = append(roots, s)
		}
	}
	order := func(ss []sdktrace.ReadOnlySpan) {
		slices.SortStableFunc(ss, func(a, b sdktrace.ReadOnlySpan) int {
			if sortByName {
				return strings.Compare(a.Name(), b.Name())
			}
			return a.StartTime().Compare(b.StartTime())
		})
	}
	var b strings.Builder
	var draw func(s sdktrace.ReadOnlySpan, depth int)
	draw = func(s sdktrace.ReadOnlySpan, depth int) {
		b.WriteString(strings.Repeat("  ", depth) + s.Name())
		if st := s.Status(); st.Code == codes.Error {
			fmt.Fprintf(&b, " ERROR(%s)", st.Description)
		}
		for _, kv := range s.Attributes() {
			if slices.Contains(keys, string(kv.Key)) {
				fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.String())
			}
		}
		for _, e := range s.Events() {
			b.WriteString(" [" + e.Name)
			for _, kv := range e.Attributes {
				if slices.Contains(keys, string(kv.Key)) {
					fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.String())
				}
			}
			b.WriteString("]")
		}
		b.WriteString("\n")
		k := kids[s.SpanContext().SpanID()]
		order(k)
		for _, c := range k {
			draw(c, depth+1)
		}
	}
	order(roots)
	for _, s := range roots {
		draw(s, 0)
	}
	return b.String()
}

// span returns the ended spans named name.
func (r *rig) span(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// metrics collects the metrics and returns each data point's value as
// "name{k=v,…}" -> value: a sum's or gauge's value, a histogram's count.
func (r *rig) metrics() map[string]float64 {
	r.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		r.t.Fatal(err)
	}
	out := map[string]float64{}
	key := func(name string, set attribute.Set) string {
		var kv []string
		for _, a := range set.ToSlice() {
			kv = append(kv, string(a.Key)+"="+a.Value.String())
		}
		return name + "{" + strings.Join(kv, ",") + "}"
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = float64(p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = float64(p.Count)
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = float64(p.Count)
					out[key(m.Name+".sum", p.Attributes)] = float64(p.Sum)
				}
			default:
				r.t.Fatalf("metric %s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

// only returns the entries of m whose name starts with prefix.
func only(m map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// Order is the tests' saga state.
type Order struct {
	Steps []string
	mu    sync.Mutex
}

func (o *Order) add(s string) {
	o.mu.Lock()
	o.Steps = append(o.Steps, s)
	o.mu.Unlock()
}

var (
	errDeclined = errors.New("card declined")
	errFlaky    = errors.New("connection reset")
)

// step returns an action that records name and returns the errors of
// errs in turn, then nil.
func step(name string, errs ...error) func(context.Context, *Order) error {
	var mu sync.Mutex
	return func(_ context.Context, o *Order) error {
		o.add(name)
		mu.Lock()
		defer mu.Unlock()
		if len(errs) == 0 {
			return nil
		}
		err := errs[0]
		errs = errs[1:]
		return err
	}
}

// overlap reports whether the spans all ran at once at some moment.
func overlap(spans []sdktrace.ReadOnlySpan) bool {
	var latestStart, earliestEnd time.Time
	for k, s := range spans {
		if k == 0 || s.StartTime().After(latestStart) {
			latestStart = s.StartTime()
		}
		if k == 0 || s.EndTime().Before(earliestEnd) {
			earliestEnd = s.EndTime()
		}
	}
	return latestStart.Before(earliestEnd)
}

// noErrors shortens every " ERROR(description)" of a tree to " ERROR".
func noErrors(tree string) string {
	var b strings.Builder
	for {
		k := strings.Index(tree, " ERROR(")
		if k < 0 {
			return b.String() + tree
		}
		b.WriteString(tree[:k] + " ERROR")
		depth := 0
		j := k + len(" ERROR")
		for ; j < len(tree); j++ {
			if tree[j] == '(' {
				depth++
			} else if tree[j] == ')' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		tree = tree[j+1:]
	}
}

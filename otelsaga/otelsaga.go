package otelsaga

import (
	"errors"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/sagakit/sagakit/saga"
)

// ScopeName is the instrumentation scope of the spans and instruments
// this package makes.
const ScopeName = "github.com/sagakit/sagakit/otelsaga"

// Options configure [New]. A nil *Options, like the zero Options, means
// the defaults.
type Options struct {
	// TracerProvider makes the spans (default: the global provider,
	// otel.GetTracerProvider). A noop.TracerProvider of package
	// go.opentelemetry.io/otel/trace/noop turns tracing off: the hooks
	// then make no span at all.
	TracerProvider trace.TracerProvider
	// MeterProvider makes the instruments (default: the global provider,
	// otel.GetMeterProvider). A noop.MeterProvider of package
	// go.opentelemetry.io/otel/metric/noop turns metrics off.
	MeterProvider metric.MeterProvider
	// Propagator writes the trace context that a durable run journals
	// and reads it back when the run is driven again (see
	// [Telemetry.Inject]). Default: W3C Trace Context
	// (propagation.TraceContext), whatever the global propagator is, so
	// that runs always stay in their trace.
	Propagator propagation.TextMapPropagator
}

// Telemetry makes OpenTelemetry spans and metrics from saga runs: give
// [Telemetry.Hooks] to the sagas you build, [Telemetry.Store] and the
// Telemetry itself (a durable.Propagator) to a durable engine. It is safe
// for concurrent use; one Telemetry serves every saga of a program.
type Telemetry struct {
	tracer  trace.Tracer
	meter   metric.Meter
	tracing bool // tracer is not a no-op
	metrics bool // the meter is not a no-op
	prop    propagation.TextMapPropagator
	inst    instruments

	sagas sync.Map // saga name -> *sagaMeta
}

// New returns the telemetry of opts' providers. It fails only if the
// meter provider refuses an instrument.
func New(opts *Options) (*Telemetry, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	if o.Propagator == nil {
		o.Propagator = propagation.TraceContext{}
	}
	t := &Telemetry{tracer: o.TracerProvider.Tracer(ScopeName), prop: o.Propagator}
	_, off := o.TracerProvider.(tracenoop.TracerProvider)
	t.tracing = !off
	_, off = o.MeterProvider.(metricnoop.MeterProvider)
	t.metrics = !off
	var err error
	t.meter = o.MeterProvider.Meter(ScopeName)
	t.inst, err = newInstruments(t.meter)
	return t, err
}

// Hooks returns the saga hooks that make the spans and metrics: pass
// them to saga's Builder.WithHooks. A saga built with them costs what
// its spans and measurements cost. When both providers are no-ops,
// Hooks returns nil: a saga built with no hooks costs nothing.
func (t *Telemetry) Hooks() *saga.Hooks {
	if !t.tracing && !t.metrics {
		return nil
	}
	return &saga.Hooks{
		RunContext:            t.runContext,
		OnCompensationStart:   t.compensationStarted,
		OnComplete:            t.completed,
		StepContext:           t.stepContext,
		OnStepSuccess:         t.stepSucceeded,
		OnStepFailure:         t.stepFailed,
		OnStepSuspended:       t.stepSuspended,
		OnStepRetry:           t.stepRetrying,
		CompensationContext:   t.compensationContext,
		OnCompensationRetry:   t.compensationRetrying,
		OnStepCompensated:     t.stepCompensated,
		OnCompensationFailure: t.compensationFailed,
	}
}

// Attribute keys of the spans and metrics.
const (
	keySaga    = attribute.Key("saga.name")
	keyRunID   = attribute.Key("saga.run.id")
	keyStatus  = attribute.Key("saga.status")
	keyStep    = attribute.Key("saga.step")
	keyOutcome = attribute.Key("saga.outcome")
	keyPhase   = attribute.Key("saga.phase")
	keyAttempt = attribute.Key("saga.attempt")
	keyTries   = attribute.Key("saga.attempts")
	keyDelay   = attribute.Key("saga.retry.delay")
	keyError   = attribute.Key("saga.retry.error")
	keyCause   = attribute.Key("saga.cause")
)

// Run statuses as the metrics name them: saga's, and two for a durable
// run's drive that stopped without the run ending.
var statuses = [...]string{
	saga.StatusRunning:            "running",
	saga.StatusSucceeded:          "succeeded",
	saga.StatusCompensated:        "compensated",
	saga.StatusCompensationFailed: "compensation_failed",
	saga.StatusFailed:             "failed",
	saga.StatusPaused:             "paused",
	statusWaiting:                 "waiting",
	statusInterrupted:             "interrupted",
}

const (
	// statusWaiting: the run waits for an event or a timer (durable's
	// Await or Sleep); a worker drives it again when it is woken.
	statusWaiting = saga.StatusPaused + 1 + iota
	// statusInterrupted: the drive stopped without ending the run (the
	// engine stopped, the lease was lost, the journal failed); another
	// worker carries it on.
	statusInterrupted
)

// Step outcomes and retry phases, as the metrics name them.
const (
	outSucceeded = iota
	outFailed
	outCancelled
	outSuspended
	outcomes
)

var outcomeNames = [outcomes]string{"succeeded", "failed", "cancelled", "suspended"}

const (
	compCompensated = iota
	compFailed
)

// sagaMeta is what a saga's telemetry reuses from run to run: span names
// and the measurement options of its attribute sets.
type sagaMeta struct {
	name    string
	runSpan string
	runAdd  []metric.AddOption // saga.name
	ended   [len(statuses)]atomic.Pointer[endedOpts]
	steps   atomic.Pointer[[]*stepMeta] // by step index
	mu      sync.Mutex                  // for writers of steps
}

type endedOpts struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

// stepMeta is a step's reusable telemetry.
type stepMeta struct {
	name      string
	span      string // "step <name>"
	compSpan  string // "compensate <name>"
	spanOpts  []trace.SpanStartOption
	duration  [outcomes][]metric.RecordOption
	retries   [2][]metric.AddOption // by phase: action, compensation
	compEnded [2][]metric.AddOption // compensated, failed
}

func (t *Telemetry) saga(name string) *sagaMeta {
	if m, ok := t.sagas.Load(name); ok {
		return m.(*sagaMeta)
	}
	m := &sagaMeta{name: name, runSpan: "run " + name, runAdd: addOpts(keySaga.String(name))}
	actual, _ := t.sagas.LoadOrStore(name, m)
	return actual.(*sagaMeta)
}

// step returns the telemetry of the saga's step i, named name.
func (m *sagaMeta) step(i int, name string) *stepMeta {
	if p := m.steps.Load(); p != nil && i < len(*p) {
		if s := (*p)[i]; s != nil && s.name == name {
			return s
		}
	}
	s := newStepMeta(m.name, name)
	if i < 0 {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var steps []*stepMeta
	if p := m.steps.Load(); p != nil {
		steps = *p
	}
	grown := make([]*stepMeta, max(len(steps), i+1))
	copy(grown, steps)
	grown[i] = s // a saga of the same name with another step here replaces it
	m.steps.Store(&grown)
	return s
}

func newStepMeta(sg, name string) *stepMeta {
	s := &stepMeta{name: name, span: "step " + name, compSpan: "compensate " + name}
	s.spanOpts = []trace.SpanStartOption{trace.WithAttributes(keySaga.String(sg), keyStep.String(name))}
	for o := range outcomes {
		s.duration[o] = recordOpts(keySaga.String(sg), keyStep.String(name), keyOutcome.String(outcomeNames[o]))
	}
	for p, phase := range []string{"action", "compensation"} {
		s.retries[p] = addOpts(keySaga.String(sg), keyStep.String(name), keyPhase.String(phase))
	}
	for c, outcome := range []string{"compensated", "failed"} {
		s.compEnded[c] = addOpts(keySaga.String(sg), keyStep.String(name), keyOutcome.String(outcome))
	}
	return s
}

// endedOpts returns the options of a run's end in status s.
func (m *sagaMeta) endedOpts(s saga.Status) *endedOpts {
	if int(s) >= len(m.ended) {
		s = saga.StatusRunning
	}
	if e := m.ended[s].Load(); e != nil {
		return e
	}
	kv := []attribute.KeyValue{keySaga.String(m.name), keyStatus.String(statuses[s])}
	e := &endedOpts{add: addOpts(kv...), record: recordOpts(kv...)}
	m.ended[s].Store(e)
	return e
}

// addOpts and recordOpts return the measurement options of one attribute
// set, as slices made once: passed as opts..., they cost no allocation.
func addOpts(kv ...attribute.KeyValue) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

func recordOpts(kv ...attribute.KeyValue) []metric.RecordOption {
	return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

// instruments are the saga metrics (see the package documentation).
type instruments struct {
	runStarted   metric.Int64Counter
	runEnded     metric.Int64Counter
	runActive    metric.Int64UpDownCounter
	runDuration  metric.Float64Histogram
	stepDuration metric.Float64Histogram
	retries      metric.Int64Counter
	compEnded    metric.Int64Counter
	// The journal's, for durable engines (see Telemetry.Store).
	writeDuration metric.Float64Histogram
	writeEntries  metric.Int64Histogram
	leaseClaimed  metric.Int64Counter
	leaseLost     metric.Int64Counter
	runs          metric.Int64ObservableGauge
}

// Histogram boundaries, in seconds: steps and runs call services; journal
// writes are commits to a local file or a database.
var (
	stepBuckets    = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}
	journalBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
	entryBuckets   = []float64{1, 2, 3, 4, 6, 8, 16, 32, 64}
)

func newInstruments(m metric.Meter) (instruments, error) {
	var in instruments
	var errs [12]error
	in.runStarted, errs[0] = m.Int64Counter("saga.run.started", metric.WithUnit("{run}"),
		metric.WithDescription("Runs started, by saga; a durable run counts each time a worker drives it."))
	in.runEnded, errs[1] = m.Int64Counter("saga.run.ended", metric.WithUnit("{run}"),
		metric.WithDescription("Runs ended, by saga and status (waiting, interrupted: a durable run's drive stopped without the run ending)."))
	in.runActive, errs[2] = m.Int64UpDownCounter("saga.run.active", metric.WithUnit("{run}"),
		metric.WithDescription("Runs in flight in this process, by saga."))
	in.runDuration, errs[3] = m.Float64Histogram("saga.run.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of runs (of a durable run's drive), by saga and status."),
		metric.WithExplicitBucketBoundaries(stepBuckets...))
	in.stepDuration, errs[4] = m.Float64Histogram("saga.step.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of step executions, retries included, by saga, step and outcome."),
		metric.WithExplicitBucketBoundaries(stepBuckets...))
	in.retries, errs[5] = m.Int64Counter("saga.step.retries", metric.WithUnit("{retry}"),
		metric.WithDescription("Failed attempts retried, by saga, step and phase (action or compensation)."))
	in.compEnded, errs[6] = m.Int64Counter("saga.compensation.ended", metric.WithUnit("{compensation}"),
		metric.WithDescription("Compensations ended, by saga, step and outcome (compensated or failed)."))
	in.writeDuration, errs[7] = m.Float64Histogram("saga.journal.write.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of journal writes (commit latency), by operation (create, append)."),
		metric.WithExplicitBucketBoundaries(journalBuckets...))
	in.writeEntries, errs[8] = m.Int64Histogram("saga.journal.write.entries", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries per journal write, by operation (create, append)."),
		metric.WithExplicitBucketBoundaries(entryBuckets...))
	in.leaseClaimed, errs[9] = m.Int64Counter("saga.lease.claimed", metric.WithUnit("{run}"),
		metric.WithDescription("Runs leased by this process, by how (create: Definition.Run; claim: a worker looking for runs; acquire: an operator verb)."))
	in.leaseLost, errs[10] = m.Int64Counter("saga.lease.lost", metric.WithUnit("{run}"),
		metric.WithDescription("Leases this process found lost, by operation (append, renew)."))
	in.runs, errs[11] = m.Int64ObservableGauge("saga.journal.runs", metric.WithUnit("{run}"),
		metric.WithDescription("Runs in the journal that have not ended for good, by saga and status; paused, failed, compensation_failed and blocked runs wait for an operator."))
	return in, errors.Join(errs[:]...)
}

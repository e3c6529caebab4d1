// Package otelsaga makes OpenTelemetry traces and metrics from saga runs:
// of package saga's sequential runner, package parallel's, and package
// durable's engines. It lives in a module of its own
// (github.com/sagakit/sagakit/otelsaga), so that the core module never
// links OpenTelemetry.
//
// # Setup
//
// A [Telemetry] is made once, from the providers the program set up
// ([Options]; by default, the global ones), and serves every saga:
//
//	tel, err := otelsaga.New(nil) // otel.GetTracerProvider(), otel.GetMeterProvider()
//	sg := saga.New[Order]().Name("order").WithHooks(tel.Hooks()).Step(…).Build()
//
// A durable engine also journals each run's trace context, and measures
// its journal, with:
//
//	eng := durable.NewEngine(tel.Store(store), durable.WithPropagator(tel))
//	reg, err := tel.ObserveRuns(store) // runs waiting for an operator (one process of a fleet)
//
// and slog records join the traces with:
//
//	logger := slog.New(otelsaga.Handler(slog.NewJSONHandler(os.Stdout, nil)))
//
// # Traces
//
// A run is a span, "run <saga>" (attributes saga.name, saga.run.id and,
// when it ends, saga.status), the child of the caller's span if the
// context given to Run has one. Each execution of a step's action is a
// child span, "step <step>", which is the current span of the context the
// action gets: the calls it makes with that context (a traced HTTP
// client, a database driver) are its children. A failed attempt that
// will be retried is an event "retry" on the step's span (saga.attempt,
// saga.retry.delay in seconds, saga.retry.error); the span ends when the
// step does, with saga.attempts when there was more than one. The
// run's decision to compensate is an event "compensation started" on its
// span (saga.cause), and each step's compensation is a span of its own,
// "compensate <step>", child of the run's, its retries events on it.
//
// A step, compensation or run that fails records its error (an
// "exception" event) and ends with an error status whose description is
// the error; a step cancelled because a sibling failed ends with
// saga.outcome=cancelled and an event "cancelled", its status unset. A
// successful span's status is left unset, as OpenTelemetry asks.
// Package parallel's concurrent steps are sibling spans that overlap in
// time.
//
// # Durable runs: one trace across processes
//
// With durable.WithPropagator(tel), a durable run stays one trace however
// many processes drive it. Definition.Run journals the run's span
// context (W3C Trace Context by default, see [Options]) with the run;
// when another worker recovers it after a crash, wakes it after a wait,
// or carries out an operator's resume, its run span is a child of the
// journaled one: the drives of a run are nested spans of one trace, the
// first one's ended steps included, even when the process that made it
// died before exporting the run's own span. Definition.Start, which
// journals a run for any worker, journals a producer span "start
// <saga>" (ended at once, child of the caller's span) instead: every
// drive of the run is its child.
//
// A drive that stops without the run ending ends its span with
// saga.status "waiting" (the run waits for an event or a timer) or
// "interrupted" (the engine stopped, the lease was lost, the journal
// failed; an error status unless the engine was stopping), and the next
// drive carries on in the same trace.
//
// # Metrics
//
// The hooks record:
//
//   - saga.run.started, saga.run.ended ({run}; saga.name, and
//     saga.status for ended): runs (drives of a durable run) started and
//     ended, by status: succeeded, compensated, compensation_failed,
//     failed, paused, and waiting or interrupted for a drive that stopped
//     without the run ending;
//   - saga.run.active ({run}; saga.name): runs in flight in the process;
//   - saga.run.duration (s; saga.name, saga.status);
//   - saga.step.duration (s; saga.name, saga.step, saga.outcome):
//     executions of steps, retries included, by outcome: succeeded,
//     failed, cancelled, or suspended (a durable step waits);
//   - saga.step.retries ({retry}; saga.name, saga.step, saga.phase):
//     failed attempts retried, of actions and compensations;
//   - saga.compensation.ended ({compensation}; saga.name, saga.step,
//     saga.outcome): compensated or failed.
//
// A durable engine given [Telemetry.Store] records its journal's writes
// and leases (saga.journal.write.duration, saga.journal.write.entries,
// saga.lease.claimed, saga.lease.lost), and [Telemetry.ObserveRuns] makes
// the gauge saga.journal.runs count the runs not ended for good by saga
// and status, among them those waiting for an operator (paused, failed,
// compensation_failed, blocked).
//
// Measurements are made with the context of what they measure: with the
// SDK's default exemplar filter, a step's duration carries the step's
// span as its exemplar.
//
// # Cost
//
// A saga built without hooks pays nothing. With the hooks, a step costs
// the SDK's span (a start and an end) and a histogram measurement;
// [Telemetry.Hooks] makes nothing a no-op provider would throw away, and
// returns nil when both providers are no-ops. The package's benchmark
// (BenchmarkStep) measures the cost per step; the README has figures.
package otelsaga

// Package saga runs sagas: chains (or graphs) of steps, each a local action
// with a compensating action, so that work spread over services with no
// shared transaction either completes or is undone in reverse.
//
// # Model
//
// A saga is defined once over a state type S (S is the saga state type)
// and run many times, each run over its own *S. Steps talk through the
// state: an action writes into *S what a later step, or its own
// compensation, needs (an order ID, a payment ID).
//
//	sg := saga.New[Order]().
//		Name("order").
//		Step("reserve", reserve, release).
//		Step("charge", charge, refund, saga.Timeout(5*time.Second)).
//		Step("ship", ship, nil).
//		Build()
//
//	rep, err := sg.Run(ctx, &order)
//
// [New] returns a [Builder]; [Builder.Step] adds a step from two functions
// (a nil compensation means there is nothing to undo) and [Builder.Add] a
// step written as a type implementing [Step]. [Builder.Build] checks the
// definition and returns an immutable [Saga], safe for concurrent use;
// definition errors (empty or duplicate names, nil actions, unknown
// dependencies, cycles) panic there with a "saga: " message, or come back
// as a [*DefinitionError] from [Builder.Compile]. Nothing is checked late:
// a saga that builds runs.
//
// # Running and compensating
//
// [Saga.Run] runs the steps in order. When a step fails:
//
//   - every completed step is compensated, in reverse order of completion;
//   - the failed step itself is not, unless it opted in with
//     [CompensateIfFailed] (an action that timed out may have taken effect);
//   - steps without a compensation are skipped;
//   - compensations run on a context detached from the caller's
//     cancellation (context.WithoutCancel), each attempt bounded by its own
//     timeout, retried under its own policy ([DefaultCompensationRetry]);
//     one failed compensation does not stop the others, and the run then
//     ends in [StatusCompensationFailed], which needs a person's attention.
//
// Run returns a [*Report] (always) and an error (nil on success). The error
// is an [*Error]: errors.As gives the failed step's name, errors.Is reaches
// the step's own error and each compensation's error, and
// errors.Is(err, [ErrCompensationFailed]) tells that something could not be
// undone.
//
// When the caller's context ends or the saga's deadline passes
// ([Builder.WithTimeout]), no new step starts, the running step sees its
// context end, and completed steps are compensated.
// [Builder.WithCompensationReserve] ends forward work early enough to keep
// time for compensation. A panic in an action or compensation is recovered
// and treated as its failure; the error is a [*PanicError] carrying the
// value and stack.
//
// # Steps of other kinds
//
// [Builder.CompensateOn] filters the errors that trigger compensation; any
// other error ends the run at once in [StatusFailed]. A [Pivot] step is the
// point of no return: once it succeeds nothing is rolled back, and the
// steps after it must be [Retriable]: retried forward until they succeed,
// never compensated. [Retry] retries an action under a retry.Policy, and
// [CompensationRetry] a compensation.
//
// # Observing
//
// [Hooks] is a struct of optional callbacks for every event (start, step
// start, success, failure and retry, compensation start, step compensated
// or not, completion); three of them give the run, each step's execution
// and each compensation a context of their own, where a tracer keeps its
// spans (the nested module otelsaga does so for OpenTelemetry).
// [Builder.WithLogger] logs the same events to a *slog.Logger. A saga
// without hooks or logger is silent and pays nothing for them. The [Report] lists every step's status, attempts, times and
// errors; its String method prints a table and it marshals to JSON.
//
// # Concurrency
//
// A Saga may be Run by many goroutines at once. Within one sequential run,
// steps run one at a time on the calling goroutine. Package parallel runs
// the same Saga with independent steps at once; see its documentation for
// the rules on sharing *S.
package saga

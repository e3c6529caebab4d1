// Package parallel runs a [saga.Saga] with independent steps at the same
// time, on golang.org/x/sync/errgroup.
//
// # Model
//
// A saga's steps form a graph: [saga.After] declares that a step runs
// after others. [Run] starts every step whose dependencies are done, so
// steps with no dependencies all start at once from the same state, and
// a step starts as soon as the last of its
// dependencies succeeds. [Limit] caps how many run at a time. The same
// Saga run by [saga.Saga.Run] runs one step at a time in plan order: a
// definition does not change with its runner.
//
//	sg := saga.New[Trip]().
//		Step("debit", debit, refund).
//		Step("flight", bookFlight, cancelFlight, saga.After("debit")).
//		Step("hotel", bookHotel, cancelHotel, saga.After("debit")).
//		Step("car", bookCar, cancelCar, saga.After("debit")).
//		Build()
//
//	rep, err := parallel.Run(ctx, sg, &trip)
//
// # Failures
//
// When a step fails, the steps still running see their context cancelled,
// with the failure as its cause (context.Cause), and no new step starts;
// a step that ends with that cancellation (its error is the context's
// error or its cause) is reported [saga.StepCancelled], not failed.
// Run waits for the running steps, then compensates every step that
// completed, those that completed after the failure included: a step only
// after every step that depends on it has been compensated, independent
// ones concurrently, on a context detached from the caller's cancellation.
// Every failure is reported: the returned [*saga.Error] names the first
// failed step and holds the other failures in Others, and errors.Is reaches each
// of their errors. Retries, timeouts, hooks, logging, panics, the pivot,
// the error filter and the report behave as with [saga.Saga.Run]; the
// report's step times overlap.
//
// # Sharing the state
//
// Concurrent steps get the same *S. The rule: a step writes only fields no
// concurrent step reads or writes (its own result fields), and reads
// fields written by the steps it runs after, which the runner orders
// before it. A field several concurrent steps must write goes in a
// [state.Cell], which guards it with a mutex. Hooks are called from the
// steps' goroutines and must be safe for concurrent use. Run the tests of
// your sagas with -race.
//
// [state.Cell]: https://pkg.go.dev/github.com/sagakit/sagakit/state#Cell
package parallel

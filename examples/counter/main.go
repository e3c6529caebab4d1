// Command counter ports pysagas' examples: two steps add an amount to the
// two cells of a counter, and their compensations take it away again.
//
//   - The simple example: both steps succeed, [10 20] becomes [40 50].
//   - The failure example: add raises after it has changed the counter.
//     The failed step has already taken effect, so it opts in to its own
//     compensation with saga.CompensateIfFailed; the counter is back to
//     [10 20].
//   - pysagas' run(exceptions=...) is Builder.CompensateOn: only matching
//     errors trigger compensation. With a filter that does not match, the
//     saga returns at once, status failed, and the counter keeps the change.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/sagakit/sagakit/saga"
)

// Counter is the saga state, pysagas' global counter.
type Counter []int

const amount = 30

// errOccurred is the failing add's error, Python's Exception('error occurred').
var errOccurred = errors.New("error occurred")

// add increments counter[index] by amount; when failing, it then raises,
// as the add function of pysagas' failure example does.
func add(w io.Writer, index int, failing bool) func(context.Context, *Counter) error {
	return func(_ context.Context, c *Counter) error {
		(*c)[index] += amount
		fmt.Fprintf(w, "  add %d to counter[%d]: %v\n", amount, index, *c)
		if failing {
			fmt.Fprintf(w, "  add raises %q\n", errOccurred)
			return errOccurred
		}
		return nil
	}
}

// decrement takes amount from counter[index] again.
func decrement(w io.Writer, index int) func(context.Context, *Counter) error {
	return func(_ context.Context, c *Counter) error {
		(*c)[index] -= amount
		fmt.Fprintf(w, "  decrement counter[%d] by %d: %v\n", index, amount, *c)
		return nil
	}
}

// isOSError matches what Python calls OSError: errors of the operating
// system, such as a failed file operation.
func isOSError(err error) bool {
	_, path := errors.AsType[*os.PathError](err)
	_, errno := errors.AsType[syscall.Errno](err)
	return path || errno
}

// counterSaga is pysagas' SagaBuilder chain. compensateOn is run's
// exceptions argument; nil compensates every error, like
// exceptions=(OSError, Exception).
func counterSaga(w io.Writer, failing bool, compensateOn func(error) bool) *saga.Saga[Counter] {
	b := saga.New[Counter]().
		Name("counter").
		Step("add_0", add(w, 0, failing), decrement(w, 0), saga.CompensateIfFailed()).
		Step("add_1", add(w, 1, failing), decrement(w, 1), saga.CompensateIfFailed())
	if compensateOn != nil {
		b.CompensateOn(compensateOn)
	}
	return b.Build()
}

// scenario runs one saga over a fresh counter and prints the outcome.
func scenario(w io.Writer, title string, sg *saga.Saga[Counter]) (Counter, error) {
	fmt.Fprintf(w, "%s\n", title)
	c := Counter{10, 20}
	rep, err := sg.Run(context.Background(), &c)
	if err != nil {
		fmt.Fprintf(w, "  saga error: %v\n", err)
	}
	fmt.Fprintf(w, "  status: %s\n", rep.Status)
	fmt.Fprintf(w, "  counter: %v\n\n", c)
	return c, err
}

func run(w io.Writer) error {
	if _, err := scenario(w, "Simple example: run(exceptions=(OSError))",
		counterSaga(w, false, isOSError)); err != nil {
		return err
	}
	if _, err := scenario(w, "Failure example: run(exceptions=(OSError, Exception))",
		counterSaga(w, true, nil)); !errors.Is(err, errOccurred) {
		return fmt.Errorf("want %v, got %v", errOccurred, err)
	}
	if _, err := scenario(w, "Failure example, filtered: run(exceptions=(OSError))",
		counterSaga(w, true, isOSError)); !errors.Is(err, errOccurred) {
		return fmt.Errorf("want %v, got %v", errOccurred, err)
	}
	return nil
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "counter:", err)
		os.Exit(1)
	}
}

package saga_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

// ownHooks returns a retry policy whose own hooks append to *events with
// the given prefix.
func ownHooks(prefix string, attempts int, events *[]string) retry.Policy {
	add := func(format string, args ...any) { *events = append(*events, prefix+" "+fmt.Sprintf(format, args...)) }
	return retry.Policy{MaxAttempts: attempts, InitialInterval: time.Millisecond, Hooks: &retry.Hooks{
		OnAttemptFailed:  func(_ context.Context, n int, err error) { add("attempt %d failed: %v", n, err) },
		OnRetryScheduled: func(_ context.Context, n int, _ error, d time.Duration) { add("retry after %d in %v", n, d) },
		OnGaveUp:         func(_ context.Context, e *retry.Error) { add("gave up: %v", e.Reason) },
	}}
}

// Hooks and a step's own retry hooks inside the runner: the run's hooks
// are chained before the policy's own OnRetryScheduled, and the policy's
// OnAttemptFailed and OnGaveUp still fire, for actions and compensations.
func TestStepRetryHooksKeptInObservedRun(t *testing.T) {
	var events []string
	tries := 0
	sg := saga.New[trip]().Name("order").
		WithHooks(recorder(&events)).
		Step("a", do("a", nil), undo("a", errBoom), saga.CompensationRetry(ownHooks("own comp a", 2, &events))).
		Step("b", func(context.Context, *trip) error {
			if tries++; tries < 2 {
				return errBoom
			}
			return nil
		}, nil, saga.Retry(ownHooks("own b", 3, &events))).
		Step("c", do("c", errBoom), nil, saga.Retry(ownHooks("own c", 1, &events))).
		Build()
	_, err := sg.Run(context.Background(), &trip{})
	if err == nil {
		t.Fatal("run succeeded")
	}
	want := []string{
		"start order",
		"step start a #1", "step success a",
		"step start b #1",
		"own b attempt 1 failed: boom",
		"step retry b after #1 in 1ms", "own b retry after 1 in 1ms",
		"step start b #2", "step success b",
		"step start c #1",
		"own c attempt 1 failed: boom", "own c gave up: exhausted",
		"step failure c: boom",
		"compensation start: boom",
		"own comp a attempt 1 failed: boom",
		"compensation retry a after #1 in 1ms", "own comp a retry after 1 in 1ms",
		"own comp a attempt 2 failed: boom", "own comp a gave up: exhausted",
		"compensation failure a after 2: retry: gave up after 2 attempts (exhausted): boom",
		"complete compensation_failed",
	}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

// A saga without hooks leaves a step's own retry hooks as they are.
func TestStepRetryHooksInUnobservedRun(t *testing.T) {
	var events []string
	sg := saga.New[trip]().
		Step("a", do("a", nil), undo("a", errBoom), saga.CompensationRetry(ownHooks("comp", 2, &events))).
		Step("b", do("b", errBoom), nil, saga.Retry(ownHooks("b", 2, &events))).
		Build()
	_, _ = sg.Run(context.Background(), &trip{})
	want := []string{
		"b attempt 1 failed: boom", "b retry after 1 in 1ms", "b attempt 2 failed: boom", "b gave up: exhausted",
		"comp attempt 1 failed: boom", "comp retry after 1 in 1ms", "comp attempt 2 failed: boom", "comp gave up: exhausted",
	}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

// Hooks: each start is followed by exactly one end. StepContext is called
// once per execution (not per attempt), CompensationContext once per
// compensation, and every step of the run reports an end.
func TestHookContextsOncePerExecution(t *testing.T) {
	var events []string
	add := func(s string) { events = append(events, s) }
	tries := 0
	sg := saga.New[trip]().
		WithHooks(&saga.Hooks{
			RunContext: func(ctx context.Context, _ saga.RunInfo) context.Context { add("run ctx"); return ctx },
			StepContext: func(ctx context.Context, s saga.StepInfo) context.Context {
				add(fmt.Sprintf("step ctx %s #%d", s.Step, s.Attempt))
				return ctx
			},
			CompensationContext: func(ctx context.Context, s saga.StepInfo) context.Context {
				add(fmt.Sprintf("comp ctx %s #%d", s.Step, s.Attempt))
				return ctx
			},
			OnStepStart:       func(_ context.Context, s saga.StepInfo) { add(fmt.Sprintf("start %s #%d", s.Step, s.Attempt)) },
			OnStepSuccess:     func(_ context.Context, s saga.StepInfo, _ time.Duration) { add("success " + s.Step) },
			OnStepFailure:     func(_ context.Context, s saga.StepInfo, _ error) { add("failure " + s.Step) },
			OnStepCompensated: func(_ context.Context, s saga.StepInfo) { add(fmt.Sprintf("compensated %s #%d", s.Step, s.Attempt)) },
			OnComplete:        func(context.Context, *saga.Report) { add("complete") },
		}).
		Step("a", func(context.Context, *trip) error {
			if tries++; tries < 3 {
				return errBoom
			}
			return nil
		}, undo("a", nil), saga.Retry(retry.Policy{MaxAttempts: 3, InitialInterval: -1})).
		Step("b", do("b", errBoom), undo("b", nil)).
		Build()
	_, _ = sg.Run(context.Background(), &trip{})
	want := []string{
		"run ctx",
		"step ctx a #0", "start a #1", "start a #2", "start a #3", "success a",
		"step ctx b #0", "start b #1", "failure b",
		"comp ctx a #0", "compensated a #1",
		"complete",
	}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

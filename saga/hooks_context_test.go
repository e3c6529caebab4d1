package saga_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

type scopeKey struct{}

// scopes records which scopes (run, step, compensation) a context of a
// hook call is inside, as a tracer's span would be found there.
type scopes struct {
	mu     sync.Mutex
	events []string
}

func (s *scopes) add(ctx context.Context, event string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	scope, _ := ctx.Value(scopeKey{}).(string)
	s.events = append(s.events, event+" in "+scope)
}

func (s *scopes) hooks() *saga.Hooks {
	in := func(ctx context.Context, scope string) context.Context {
		if outer, ok := ctx.Value(scopeKey{}).(string); ok {
			scope = outer + "/" + scope
		}
		return context.WithValue(ctx, scopeKey{}, scope)
	}
	return &saga.Hooks{
		RunContext: func(ctx context.Context, r saga.RunInfo) context.Context {
			s.add(ctx, "run context")
			return in(ctx, r.Saga)
		},
		StepContext: func(ctx context.Context, st saga.StepInfo) context.Context {
			s.add(ctx, fmt.Sprintf("step context %s #%d", st.Step, st.Attempt))
			return in(ctx, st.Step)
		},
		CompensationContext: func(ctx context.Context, st saga.StepInfo) context.Context {
			s.add(ctx, fmt.Sprintf("compensation context %s #%d", st.Step, st.Attempt))
			return in(ctx, "undo "+st.Step)
		},
		OnStart:       func(ctx context.Context, _ saga.RunInfo) { s.add(ctx, "start") },
		OnStepStart:   func(ctx context.Context, st saga.StepInfo) { s.add(ctx, "step start "+st.Step) },
		OnStepSuccess: func(ctx context.Context, st saga.StepInfo, _ time.Duration) { s.add(ctx, "step success "+st.Step) },
		OnStepFailure: func(ctx context.Context, st saga.StepInfo, _ error) { s.add(ctx, "step failure "+st.Step) },
		OnStepRetry: func(ctx context.Context, st saga.StepInfo, _ error, _ time.Duration) {
			s.add(ctx, "step retry "+st.Step)
		},
		OnCompensationStart: func(ctx context.Context, _ saga.RunInfo, _ error) { s.add(ctx, "compensation start") },
		OnStepCompensated:   func(ctx context.Context, st saga.StepInfo) { s.add(ctx, "compensated "+st.Step) },
		OnCompensationRetry: func(ctx context.Context, st saga.StepInfo, _ error, _ time.Duration) {
			s.add(ctx, "compensation retry "+st.Step)
		},
		OnCompensationFailure: func(ctx context.Context, st saga.StepInfo, _ error) {
			s.add(ctx, "compensation failure "+st.Step)
		},
		OnComplete: func(ctx context.Context, _ *saga.Report) { s.add(ctx, "complete") },
	}
}

// The context hooks wrap the run, each step's execution (all its
// attempts) and each compensation; the actions, compensations and the
// other hooks see the context of what they belong to.
func TestHookContexts(t *testing.T) {
	var s scopes
	flaky := 1
	twice := retry.Policy{MaxAttempts: 2, InitialInterval: time.Millisecond}
	sg := saga.New[trip]().Name("order").WithHooks(s.hooks()).
		Step("a", func(ctx context.Context, _ *trip) error {
			s.add(ctx, "action a")
			return nil
		}, func(ctx context.Context, _ *trip) error {
			s.add(ctx, "undo a")
			return nil
		}).
		Step("b", func(ctx context.Context, _ *trip) error {
			s.add(ctx, "action b")
			if flaky > 0 {
				flaky--
				return errBoom
			}
			return nil
		}, func(ctx context.Context, _ *trip) error {
			s.add(ctx, "undo b")
			return errBoom
		}, saga.Retry(twice), saga.CompensationRetry(twice)).
		Step("c", do("c", errBoom), nil).
		Build()
	_, err := sg.Run(context.Background(), &trip{})
	is.New(t).True(err != nil)
	want := []string{
		"run context in ",
		"start in order",
		"step context a #0 in order",
		"step start a in order/a", "action a in order/a", "step success a in order/a",
		"step context b #0 in order",
		"step start b in order/b", "action b in order/b", "step retry b in order/b",
		"step start b in order/b", "action b in order/b", "step success b in order/b",
		"step context c #0 in order",
		"step start c in order/c", "step failure c in order/c",
		"compensation start in order",
		"compensation context b #0 in order",
		"undo b in order/undo b", "compensation retry b in order/undo b",
		"undo b in order/undo b", "compensation failure b in order/undo b",
		"compensation context a #0 in order",
		"undo a in order/undo a", "compensated a in order/undo a",
		"complete in order",
	}
	if diff := cmp.Diff(want, s.events); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

// A step that suspends (for a runner that can suspend steps) ends its
// execution with OnStepSuspended, in the step's context.
func TestHookStepSuspended(t *testing.T) {
	is := is.New(t)
	var s scopes
	h := s.hooks()
	h.OnStepSuspended = func(ctx context.Context, st saga.StepInfo, err error) {
		s.add(ctx, fmt.Sprintf("suspended %s #%d: %v", st.Step, st.Attempt, err))
	}
	sg := saga.New[trip]().Name("wait").WithHooks(h).
		Step("w", func(context.Context, *trip) error { return saga.ErrSuspended }, nil).
		Build()
	x, err := sg.Start(context.Background(), &trip{})
	is.NoErr(err)
	x.CanSuspend()
	is.True(x.Act(x.Context(), 0) != nil)
	want := []string{
		"run context in ", "start in wait",
		"step context w #0 in wait", "step start w in wait/w",
		"suspended w #1: " + saga.ErrSuspended.Error() + " in wait/w",
	}
	if diff := cmp.Diff(want, s.events); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

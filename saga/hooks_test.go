package saga_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

// recorder returns hooks that append one line per event to *events.
func recorder(events *[]string) *saga.Hooks {
	add := func(format string, args ...any) { *events = append(*events, fmt.Sprintf(format, args...)) }
	return &saga.Hooks{
		OnStart:       func(_ context.Context, r saga.RunInfo) { add("start %s", r.Saga) },
		OnStepStart:   func(_ context.Context, s saga.StepInfo) { add("step start %s #%d", s.Step, s.Attempt) },
		OnStepSuccess: func(_ context.Context, s saga.StepInfo, _ time.Duration) { add("step success %s", s.Step) },
		OnStepFailure: func(_ context.Context, s saga.StepInfo, err error) { add("step failure %s: %v", s.Step, err) },
		OnStepRetry: func(_ context.Context, s saga.StepInfo, _ error, d time.Duration) {
			add("step retry %s after #%d in %v", s.Step, s.Attempt, d)
		},
		OnCompensationStart: func(_ context.Context, _ saga.RunInfo, cause error) { add("compensation start: %v", cause) },
		OnStepCompensated:   func(_ context.Context, s saga.StepInfo) { add("compensated %s", s.Step) },
		OnCompensationRetry: func(_ context.Context, s saga.StepInfo, _ error, d time.Duration) {
			add("compensation retry %s after #%d in %v", s.Step, s.Attempt, d)
		},
		OnCompensationFailure: func(_ context.Context, s saga.StepInfo, err error) {
			add("compensation failure %s after %d: %v", s.Step, s.Attempt, err)
		},
		OnComplete: func(_ context.Context, r *saga.Report) { add("complete %s", r.Status) },
	}
}

// Rule 10: a hook for every lifecycle event, retries included.
func TestHooksSeeEveryEvent(t *testing.T) {
	is := is.New(t)
	var events []string
	flakyB := 1
	sg := saga.New[trip]().Name("order").
		WithHooks(recorder(&events)).
		Step("a", do("a", nil), undo("a", nil)).
		Step("b", func(context.Context, *trip) error {
			if flakyB > 0 {
				flakyB--
				return errBoom
			}
			return nil
		}, undo("b", errBoom), saga.Retry(retry.Policy{MaxAttempts: 2, InitialInterval: time.Millisecond}),
			saga.CompensationRetry(retry.Policy{MaxAttempts: 2, InitialInterval: time.Millisecond})).
		Step("c", do("c", errBoom), nil).
		Build()
	_, err := sg.Run(context.Background(), &trip{})
	is.True(err != nil)
	want := []string{
		"start order",
		"step start a #1", "step success a",
		"step start b #1", "step retry b after #1 in 1ms", "step start b #2", "step success b",
		"step start c #1", "step failure c: boom",
		"compensation start: boom",
		"compensation retry b after #1 in 1ms",
		"compensation failure b after 2: retry: gave up after 2 attempts (exhausted): boom",
		"compensated a",
		"complete compensation_failed",
	}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

func TestHooksReceiveRunInfo(t *testing.T) {
	is := is.New(t)
	var info saga.StepInfo
	sg := saga.New[trip]().Name("n").
		WithHooks(&saga.Hooks{OnStepSuccess: func(_ context.Context, s saga.StepInfo, _ time.Duration) { info = s }}).
		Step("x", do("x", nil), nil).Step("y", do("y", nil), nil).
		Build()
	rep, err := sg.Run(context.Background(), &trip{})
	is.NoErr(err)
	is.Equal(info, saga.StepInfo{RunInfo: saga.RunInfo{Saga: "n", RunID: rep.RunID}, Step: "y", Index: 1, Attempt: 1})
}

// Hooks set later on the builder do not change a saga already built, and
// Build copies the struct.
func TestBuildSnapshotsHooks(t *testing.T) {
	is := is.New(t)
	calls := 0
	h := &saga.Hooks{OnStart: func(context.Context, saga.RunInfo) { calls++ }}
	b := saga.New[trip]().WithHooks(h).Step("x", do("x", nil), nil)
	sg := b.Build()
	h.OnStart = nil
	b.Step("y", do("y", errBoom), nil)
	rep, err := sg.Run(context.Background(), &trip{})
	is.NoErr(err)
	is.Equal(calls, 1)
	is.Equal(len(rep.Steps), 1)
}

// Rule 10: logging through *slog.Logger.
func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "run_id" || a.Key == "took" {
				return slog.Attr{}
			}
			return a
		}}))
	sg := saga.New[trip]().Name("order").WithLogger(log).
		WithCompensationRetry(once).
		Step("a", do("a", nil), undo("a", nil)).
		Step("b", do("b", errBoom), nil).
		Build()
	_, _ = sg.Run(context.Background(), &trip{})
	want := `level=DEBUG msg="saga started" steps=2 saga=order
level=DEBUG msg="step started" step=a attempt=1 saga=order
level=DEBUG msg="step succeeded" step=a attempt=1 saga=order
level=DEBUG msg="step started" step=b attempt=1 saga=order
level=WARN msg="step failed" step=b attempts=1 error=boom saga=order
level=WARN msg="compensation started" cause=boom saga=order
level=WARN msg="step compensated" step=a attempts=1 saga=order
level=WARN msg="saga ended" status=compensated error="saga \"order\": step \"b\" failed: boom (compensated)" saga=order
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Fatalf("log (-want +got):\n%s", diff)
	}
}

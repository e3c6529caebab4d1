package journaltest

import (
	"fmt"
	"sync"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// The subtests of Close and of concurrent use.

func testClose(h *harness) {
	ctx := h.t.Context()
	h.create("run-1", journal.Running, "w1", time.Hour)
	h.must(h.s.Close())

	for name, err := range map[string]error{
		"Create":  h.s.Create(ctx, journal.Run{ID: "run-2", Status: journal.Running}),
		"Append":  h.s.Append(ctx, "run-1", "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted}),
		"Load":    func() error { _, _, err := h.s.Load(ctx, "run-1"); return err }(),
		"List":    func() error { _, err := h.s.List(ctx, journal.Filter{}); return err }(),
		"Claim":   func() error { _, err := h.s.Claim(ctx, "w2", time.Minute, 1); return err }(),
		"Acquire": func() error { _, err := h.s.Acquire(ctx, "run-1", "w1", time.Minute); return err }(),
		"Renew":   h.s.Renew(ctx, "run-1", "w1", time.Minute),
		"Release": h.s.Release(ctx, "run-1", "w1"),
		"Request": h.s.Request(ctx, "run-1", journal.Request{Verb: journal.Resume}),
	} {
		if err == nil {
			h.t.Fatalf("%s after Close: no error, want ErrClosed", name)
		}
		h.wantErr(err, journal.ErrClosed)
	}
}

// testConcurrentAppends drives many runs at once, each from its own
// goroutine, as a worker does, with readers alongside. Run it with -race.
func testConcurrentAppends(h *harness) {
	ctx := h.t.Context()
	const runs, steps = 16, 20
	for i := range runs {
		h.create(runID(i), journal.Running, "w1", time.Hour)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*runs)
	for i := range runs {
		id := runID(i)
		wg.Go(func() {
			for s := range steps {
				state := fmt.Appendf(nil, `{"run":%q,"step":%d}`, id, s)
				err := h.s.Append(ctx, id, "w1", journal.Update{State: state},
					journal.Entry{Kind: journal.StepStarted, Step: fmt.Sprint(s), Attempt: 1},
					journal.Entry{Kind: journal.StepSucceeded, Step: fmt.Sprint(s), Attempt: 1, State: state})
				if err != nil {
					errs <- fmt.Errorf("append %s step %d: %w", id, s, err)
					return
				}
			}
		})
		wg.Go(func() {
			for range 5 {
				if _, _, err := h.s.Load(ctx, id); err != nil {
					errs <- err
					return
				}
				if _, err := h.s.List(ctx, journal.Filter{Limit: 3}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		h.must(err)
	}
	for i := range runs {
		id := runID(i)
		r, es := h.load(id)
		if want := fmt.Sprintf(`{"run":%q,"step":%d}`, id, steps-1); string(r.State) != want {
			h.t.Fatalf("%s: state %s, want %s", id, r.State, want)
		}
		if len(es) != 1+2*steps {
			h.t.Fatalf("%s: %d entries, want %d", id, len(es), 1+2*steps)
		}
		for j, e := range es[1:] {
			if e.Step != fmt.Sprint(j/2) {
				h.t.Fatalf("%s: entry %d is of step %q, want %d", id, j+1, e.Step, j/2)
			}
		}
	}
}

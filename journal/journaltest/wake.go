package journaltest

import (
	"context"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// testWakeups checks a store that implements [journal.Waker]: a pending
// run created, a request recorded and a lease released (by Release, or
// by an Append with Update.Release) each wake a listener. Stores that do not implement it skip the subtest.
func testWakeups(h *harness) {
	w, ok := h.s.(journal.Waker)
	if !ok {
		h.t.Skip("the store does not implement journal.Waker")
	}
	ctx, cancel := context.WithCancel(h.t.Context())
	defer cancel()
	wake := w.Wakeups(ctx)
	drain := func() {
		for {
			select {
			case <-wake:
			case <-time.After(50 * time.Millisecond):
				return
			}
		}
	}
	awaitWake := func(what string) {
		h.t.Helper()
		select {
		case <-wake:
		case <-time.After(10 * time.Second):
			h.t.Fatalf("no wake-up within 10s after %s", what)
		}
	}
	drain()
	h.must(h.s.Create(ctx, journal.Run{ID: "pending", Saga: "s", Status: journal.Pending}, journal.Entry{Kind: journal.RunStarted}))
	awaitWake("a pending run was created")
	h.create("paused", journal.Paused, "", 0)
	drain()
	h.must(h.s.Request(ctx, "paused", journal.Request{Verb: journal.Resume}))
	awaitWake("a request was recorded")
	h.create("leased", journal.Running, "w1", time.Hour)
	drain()
	h.must(h.s.Release(ctx, "leased", "w1"))
	awaitWake("a lease was released")
	h.create("last-write", journal.Running, "w1", time.Hour)
	drain()
	h.must(h.s.Append(ctx, "last-write", "w1", journal.Update{Status: journal.Paused, Release: true},
		journal.Entry{Kind: journal.RunPaused}))
	awaitWake("an Append released a lease")

	// After ctx ends, the channel is no longer fed (and nothing blocks).
	cancel()
	h.create("after", journal.Paused, "", 0)
	h.must(h.s.Request(h.t.Context(), "after", journal.Request{Verb: journal.Resume}))
}

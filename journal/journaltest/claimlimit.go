package journaltest

import (
	"time"

	"github.com/sagakit/sagakit/journal"
)

// testClaimLimitOldest: when n bites, Claim leases the n oldest runs that
// need a worker (by creation time, then ID), whatever their kind
// (unfinished, requested, waiting and due), and skips older runs that
// need none or whose lease is live; the next Claim takes the next oldest.
func testClaimLimitOldest(h *harness) {
	ctx := h.t.Context()
	_, signals := h.s.(journal.Signaler)
	h.create("r9-done", journal.Succeeded, "", 0)
	h.advance(time.Second)
	h.create("r8-live", journal.Running, "w0", time.Hour)
	h.advance(time.Second)
	h.create("r7-free", journal.Running, "", 0)
	h.advance(time.Second)
	if signals {
		h.create("r6-due", journal.Running, "w1", time.Hour)
		h.park("r6-due", journal.WaitFor{Event: "paid", For: time.Second})
	} else {
		h.create("r6-due", journal.Compensating, "", 0)
	}
	h.advance(time.Second)
	h.create("r5-pending", journal.Pending, "", 0)
	h.advance(time.Second)
	h.create("r4-paused", journal.Paused, "", 0)
	h.advance(time.Second)
	h.create("r3-request", journal.Paused, "", 0)
	h.must(h.s.Request(ctx, "r3-request", journal.Request{Verb: journal.Resume}))
	h.advance(time.Second)
	h.create("r2-tie", journal.Running, "", 0) // same creation time: by ID
	h.create("r1-tie", journal.Running, "", 0)
	h.advance(time.Second)
	h.create("r0-young", journal.Running, "", 0)

	claim := func(owner string, n int) []string {
		h.t.Helper()
		got, err := h.s.Claim(ctx, owner, time.Minute, n)
		h.must(err)
		return ids(got)
	}
	h.diff("the 3 oldest runs that need a worker", claim("w1", 3), []string{"r7-free", "r6-due", "r5-pending"})
	h.diff("the next 2", claim("w2", 2), []string{"r3-request", "r1-tie"})
	h.diff("the next 1", claim("w3", 1), []string{"r2-tie"})
	h.diff("the rest", claim("w4", 5), []string{"r0-young"})
	h.diff("none left", claim("w5", 5), []string{})
}

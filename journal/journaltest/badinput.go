package journaltest

import (
	"time"

	"github.com/sagakit/sagakit/journal"
)

// The subtests of argument checks on leases, and of List's order.

// testLeaseBadInput: a lease of no duration, or for no owner, is refused
// by Claim, Acquire and Renew, and leaves the run as it was.
func testLeaseBadInput(h *harness) {
	ctx := h.t.Context()
	free := h.create("free", journal.Pending, "", 0)
	held := h.create("held", journal.Running, "w1", time.Minute)
	for _, ttl := range []time.Duration{0, -time.Second} {
		_, err := h.s.Claim(ctx, "w1", ttl, 1)
		h.wantSome(err, "Claim with a lease of "+ttl.String())
		_, err = h.s.Acquire(ctx, "free", "w1", ttl)
		h.wantSome(err, "Acquire with a lease of "+ttl.String())
		err = h.s.Renew(ctx, "held", "w1", ttl)
		h.wantSome(err, "Renew with a lease of "+ttl.String())
	}
	_, err := h.s.Claim(ctx, "", time.Minute, 1)
	h.wantSome(err, "Claim for no owner")
	_, err = h.s.Acquire(ctx, "free", "", time.Minute)
	h.wantSome(err, "Acquire for no owner")
	err = h.s.Renew(ctx, "held", "", time.Minute)
	h.wantSome(err, "Renew for no owner")
	h.unchanged("free", free, 1)
	h.unchanged("held", held, 1)

	for _, n := range []int{0, -1} {
		runs, err := h.s.Claim(ctx, "w1", time.Minute, n)
		h.must(err)
		if len(runs) != 0 {
			h.t.Errorf("Claim of %d runs returned %d", n, len(runs))
		}
	}
	h.unchanged("free", free, 1)
}

// testListOrder: List returns the newest runs first, and runs created at
// the same instant by descending ID, whatever order their IDs sort in.
func testListOrder(h *harness) {
	ctx := h.t.Context()
	h.create("b", journal.Running, "", 0)
	h.advance(time.Second)
	h.create("a", journal.Running, "", 0)
	h.create("c", journal.Running, "", 0)
	runs, err := h.s.List(ctx, journal.Filter{})
	h.must(err)
	h.diff("List's order (newest first, ties by descending ID)", ids(runs), []string{"c", "a", "b"})
}

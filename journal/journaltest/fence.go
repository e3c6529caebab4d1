package journaltest

import (
	"time"

	"github.com/sagakit/sagakit/journal"
)

// testLeaseFence: every grant of a lease (Create with an owner, Claim,
// Acquire) gives the run a new LeaseToken, and an Append that names an
// older one is refused, even when the lease is its own owner's again.
func testLeaseFence(h *harness) {
	ctx := h.t.Context()
	token := func(id string) int64 {
		h.t.Helper()
		r, _ := h.load(id)
		return r.LeaseToken
	}
	step := func(name string) journal.Entry {
		return journal.Entry{Kind: journal.StepStarted, Step: name, At: h.now()}
	}

	h.create("leased", journal.Running, "w1", time.Minute)
	h.create("free", journal.Pending, "", 0)
	h.diff("token of a run created leased", token("leased"), int64(1))
	h.diff("token of a run created free", token("free"), int64(0))

	h.must(h.s.Append(ctx, "leased", "w1", journal.Update{Lease: 1}, step("a")))
	h.wantErr(h.s.Append(ctx, "leased", "w1", journal.Update{Lease: 2}, step("x")), journal.ErrLeaseLost)
	h.must(h.s.Renew(ctx, "leased", "w1", time.Minute))
	h.diff("token after a renewal", token("leased"), int64(1))

	// w1's lease lapses and w1 claims the run again: its old lease's
	// writes are refused, the new one's taken.
	h.advance(2 * time.Minute)
	got, err := h.s.Claim(ctx, "w1", time.Minute, 10)
	h.must(err)
	h.diff("claimed", ids(got), []string{"free", "leased"})
	h.diff("tokens claimed", []int64{got[0].LeaseToken, got[1].LeaseToken}, []int64{1, 2})
	before, _ := h.load("leased")
	_, es := h.load("leased")
	h.wantErr(h.s.Append(ctx, "leased", "w1", journal.Update{Lease: 1, Status: journal.Failed}, step("stale")), journal.ErrLeaseLost)
	h.wantErr(h.s.Append(ctx, "leased", "w1", journal.Update{Lease: 1, Release: true}), journal.ErrLeaseLost)
	h.unchanged("leased", before, len(es))
	h.must(h.s.Append(ctx, "leased", "w1", journal.Update{Lease: 2}, step("b")))
	h.must(h.s.Append(ctx, "leased", "w1", journal.Update{}, step("c"))) // no token: owner and expiry alone

	// Release keeps the token; the next grant moves it on.
	h.must(h.s.Append(ctx, "leased", "w1", journal.Update{Lease: 2, Release: true}))
	h.diff("token after a release", token("leased"), int64(2))
	r, err := h.s.Acquire(ctx, "leased", "w1", time.Minute)
	h.must(err)
	h.diff("token acquired", r.LeaseToken, int64(3))
	h.diff("token acquired, as loaded", token("leased"), int64(3))
	h.wantErr(h.s.Append(ctx, "leased", "w1", journal.Update{Lease: 2}, step("stale")), journal.ErrLeaseLost)
	h.must(h.s.Append(ctx, "leased", "w1", journal.Update{Lease: 3}, step("d")))
	_, es = h.load("leased")
	h.diff("entries", len(es), 5) // run_started, a, b, c, d
}

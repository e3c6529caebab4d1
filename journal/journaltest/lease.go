package journaltest

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// The subtests of Claim, Renew and Release.

func testClaim(h *harness) {
	ctx := h.t.Context()
	h.create("expired", journal.Compensating, "w0", time.Minute)
	h.advance(2 * time.Minute)
	h.create("free", journal.Running, "", 0)
	h.create("pending", journal.Pending, "", 0)
	h.create("live", journal.Running, "w0", time.Hour)
	h.create("mine-live", journal.Running, "w1", time.Hour)
	h.create("paused", journal.Paused, "", 0)
	h.create("paused-request", journal.Paused, "", 0)
	h.create("failed-request", journal.Failed, "w0", time.Second)
	h.create("succeeded", journal.Succeeded, "", 0)
	h.create("comp-failed", journal.CompensationFailed, "", 0)
	h.create("blocked", journal.Blocked, "", 0)
	h.create("blocked-request", journal.Blocked, "", 0)
	h.must(h.s.Request(ctx, "paused-request", journal.Request{Verb: journal.Resume}))
	h.must(h.s.Request(ctx, "blocked-request", journal.Request{Verb: journal.Resume}))
	h.must(h.s.Request(ctx, "failed-request", journal.Request{Verb: journal.Abandon, Note: "gone"}))
	h.advance(time.Second) // failed-request's lease expires

	got, err := h.s.Claim(ctx, "w1", 30*time.Second, 100)
	h.must(err)
	gotIDs := ids(got)
	slices.Sort(gotIDs)
	h.diff("claimed runs", gotIDs, []string{"blocked-request", "expired", "failed-request", "free", "paused-request", "pending"})
	expiry := h.now().Add(30 * time.Second)
	for _, r := range got {
		if r.LeaseOwner != "w1" || !r.LeaseExpiry.Equal(expiry) {
			h.t.Fatalf("claimed %s: lease %q until %v, want w1 until %v", r.ID, r.LeaseOwner, r.LeaseExpiry, expiry)
		}
		stored, _ := h.load(r.ID)
		h.diff("claimed run "+r.ID+" as loaded", stored, r)
	}

	// The lease moved: the new owner appends, the old one cannot.
	h.must(h.s.Append(ctx, "expired", "w1", journal.Update{}, journal.Entry{Kind: journal.CompStarted, Step: "a"}))
	h.wantErr(h.s.Append(ctx, "expired", "w0", journal.Update{}), journal.ErrLeaseLost)
	live, _ := h.load("live")
	if live.LeaseOwner != "w0" {
		h.t.Fatalf("live run leased to %q, want w0", live.LeaseOwner)
	}

	none, err := h.s.Claim(ctx, "w2", time.Minute, 100)
	h.must(err)
	h.diff("runs claimed while every lease is live", ids(none), []string{})

	h.advance(30 * time.Second) // w1's leases expire at this instant
	again, err := h.s.Claim(ctx, "w2", time.Minute, 100)
	h.must(err)
	gotIDs = ids(again)
	slices.Sort(gotIDs)
	h.diff("runs claimed after w1's leases expired", gotIDs, []string{"blocked-request", "expired", "failed-request", "free", "paused-request", "pending"})
}

func testClaimLimit(h *harness) {
	ctx := h.t.Context()
	for i := range 5 {
		h.create(runID(i), journal.Running, "", 0)
	}
	zero, err := h.s.Claim(ctx, "w1", time.Minute, 0)
	h.must(err)
	h.diff("runs claimed with n=0", ids(zero), []string{})
	first, err := h.s.Claim(ctx, "w1", time.Minute, 2)
	h.must(err)
	if len(first) != 2 {
		h.t.Fatalf("claimed %d runs with n=2", len(first))
	}
	rest, err := h.s.Claim(ctx, "w2", time.Minute, 10)
	h.must(err)
	if len(rest) != 3 {
		h.t.Fatalf("claimed %d runs, want the 3 left", len(rest))
	}
	all := append(ids(first), ids(rest)...)
	slices.Sort(all)
	h.diff("runs claimed in two calls", all, []string{runID(0), runID(1), runID(2), runID(3), runID(4)})

	_, err = h.s.Claim(ctx, "", time.Minute, 1)
	h.wantSome(err, "Claim with an empty owner")
}

// testClaimConcurrent has many workers claim at once: each run must go
// to exactly one of them.
func testClaimConcurrent(h *harness) {
	ctx := h.t.Context()
	const runs, workers = 60, 8
	for i := range runs {
		h.create(runID(i), journal.Running, "", 0)
	}
	var (
		mu      sync.Mutex
		claimed = map[string][]string{} // run → owners
		wg      sync.WaitGroup
		errs    = make(chan error, workers)
	)
	for w := range workers {
		owner := fmt.Sprintf("w%d", w)
		wg.Go(func() {
			for {
				got, err := h.s.Claim(ctx, owner, time.Hour, 3)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, r := range got {
					claimed[r.ID] = append(claimed[r.ID], owner)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		h.must(err)
	}
	if len(claimed) != runs {
		h.t.Fatalf("%d runs claimed, want %d", len(claimed), runs)
	}
	for id, owners := range claimed {
		if len(owners) != 1 {
			h.t.Fatalf("run %s claimed by %v, want one owner", id, owners)
		}
		r, _ := h.load(id)
		if r.LeaseOwner != owners[0] {
			h.t.Fatalf("run %s leased to %q, claimed by %q", id, r.LeaseOwner, owners[0])
		}
	}
}

func testAcquire(h *harness) {
	ctx := h.t.Context()
	h.create("free", journal.Paused, "", 0)
	h.create("expired", journal.Running, "w0", time.Minute)
	h.create("mine", journal.Running, "w1", time.Minute)
	h.create("live", journal.Running, "w0", time.Hour)
	h.create("done", journal.Succeeded, "", 0)
	h.advance(time.Minute) // "expired" and "mine" expire at this instant
	h.must(h.s.Renew(ctx, "live", "w0", time.Hour))

	expiry := h.now().Add(30 * time.Second)
	for _, id := range []string{"free", "expired", "mine", "done"} {
		got, err := h.s.Acquire(ctx, id, "w1", 30*time.Second)
		h.must(err)
		stored, _ := h.load(id)
		h.diff("acquired run "+id+" as loaded", stored, got)
		if got.ID != id || got.LeaseOwner != "w1" || !got.LeaseExpiry.Equal(expiry) {
			h.t.Fatalf("acquired %s: run %q leased to %q until %v, want w1 until %v", id, got.ID, got.LeaseOwner, got.LeaseExpiry, expiry)
		}
	}

	// A live lease is not granted again, not even to its owner: one lease,
	// one driver.
	h.advance(10 * time.Second)
	mine, _ := h.load("mine")
	_, err := h.s.Acquire(ctx, "mine", "w1", time.Minute)
	h.wantErr(err, journal.ErrLeaseLost)
	h.unchanged("mine", mine, 1)
	h.must(h.s.Append(ctx, "mine", "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"}))

	live, _ := h.load("live")
	_, err = h.s.Acquire(ctx, "live", "w1", time.Minute)
	h.wantErr(err, journal.ErrLeaseLost)
	h.unchanged("live", live, 1)
	_, err = h.s.Acquire(ctx, "nope", "w1", time.Minute)
	h.wantErr(err, journal.ErrNotFound)
	_, err = h.s.Acquire(ctx, "free", "", time.Minute)
	h.wantSome(err, "Acquire with an empty owner")

	// An acquired run is not claimed.
	claimed, err := h.s.Claim(ctx, "w2", time.Minute, 10)
	h.must(err)
	h.diff("runs claimed after Acquire", ids(claimed), []string{})
}

func testRenew(h *harness) {
	ctx := h.t.Context()
	h.create("run-1", journal.Running, "w1", time.Minute)
	h.advance(50 * time.Second)
	h.must(h.s.Renew(ctx, "run-1", "w1", time.Minute))
	got, _ := h.load("run-1")
	if !got.LeaseExpiry.Equal(h.now().Add(time.Minute)) || got.LeaseOwner != "w1" {
		h.t.Fatalf("after Renew: lease %q until %v, want w1 until %v", got.LeaseOwner, got.LeaseExpiry, h.now().Add(time.Minute))
	}
	h.advance(50 * time.Second) // past the first expiry, within the renewed one
	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"}))
}

func testRenewLost(h *harness) {
	ctx := h.t.Context()
	run := h.create("run-1", journal.Running, "w1", time.Minute)
	h.wantErr(h.s.Renew(ctx, "run-1", "w2", time.Minute), journal.ErrLeaseLost)
	h.wantErr(h.s.Renew(ctx, "nope", "w1", time.Minute), journal.ErrNotFound)
	h.wantSome(h.s.Renew(ctx, "run-1", "", time.Minute), "Renew with an empty owner")
	h.unchanged("run-1", run, 1)

	h.advance(time.Minute)
	h.wantErr(h.s.Renew(ctx, "run-1", "w1", time.Minute), journal.ErrLeaseLost)
	h.unchanged("run-1", run, 1)

	h.create("free", journal.Running, "", 0)
	h.wantErr(h.s.Renew(ctx, "free", "w1", time.Minute), journal.ErrLeaseLost)
}

func testRelease(h *harness) {
	ctx := h.t.Context()
	h.create("run-1", journal.Running, "w1", time.Hour)
	h.must(h.s.Release(ctx, "run-1", "w1"))
	got, _ := h.load("run-1")
	if got.LeaseOwner != "" {
		h.t.Fatalf("after Release: leased to %q", got.LeaseOwner)
	}
	h.wantErr(h.s.Append(ctx, "run-1", "w1", journal.Update{}), journal.ErrLeaseLost)

	claimed, err := h.s.Claim(ctx, "w2", time.Hour, 10)
	h.must(err)
	h.diff("runs claimed after Release", ids(claimed), []string{"run-1"})

	// Releasing a lease not held is not an error, and changes nothing.
	h.must(h.s.Release(ctx, "run-1", "w1"))
	got, _ = h.load("run-1")
	if got.LeaseOwner != "w2" {
		h.t.Fatalf("after another worker's Release: leased to %q, want w2", got.LeaseOwner)
	}
	h.must(h.s.Release(ctx, "run-1", "w2"))
	h.must(h.s.Release(ctx, "run-1", "w2"))
	if err := h.s.Release(ctx, "nope", "w1"); err != nil {
		h.wantErr(err, journal.ErrNotFound)
	}
}

// testAppendRelease checks Update.Release: the lease ends with the write,
// and the run is free at once, for Claim and Acquire alike. Release alone
// leaves Updated, as Store.Release does.
func testAppendRelease(h *harness) {
	ctx := h.t.Context()
	run := h.create("run-1", journal.Running, "w1", time.Hour)
	h.advance(time.Second)
	end := journal.Entry{Kind: journal.RunPaused, At: h.now()}
	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{Status: journal.Paused, Release: true}, end))
	got, es := h.load("run-1")
	want := run
	want.Status, want.Updated, want.LeaseOwner, want.LeaseExpiry = journal.Paused, h.now(), "", time.Time{}
	h.diff("run after an Append that released the lease", got, want)
	h.entries(es, []journal.Entry{{Kind: journal.RunStarted, At: run.Created}, end})
	h.wantErr(h.s.Append(ctx, "run-1", "w1", journal.Update{}), journal.ErrLeaseLost)
	h.wantErr(h.s.Renew(ctx, "run-1", "w1", time.Hour), journal.ErrLeaseLost)
	_, err := h.s.Acquire(ctx, "run-1", "w2", time.Minute)
	h.must(err) // free, not merely expired: no time has passed

	// A run that needs a worker is claimable right after.
	h.create("run-2", journal.Running, "w1", time.Hour)
	h.advance(time.Second)
	h.must(h.s.Append(ctx, "run-2", "w1", journal.Update{Release: true},
		journal.Entry{Kind: journal.StepStarted, Step: "a", Attempt: 1, At: h.now()}))
	claimed, err := h.s.Claim(ctx, "w2", time.Minute, 10)
	h.must(err)
	h.diff("runs claimed after an Append that released run-2", ids(claimed), []string{"run-2"})

	// Release alone: the lease ends, Updated stays, no entry is needed.
	h.must(h.s.Append(ctx, "run-2", "w2", journal.Update{}, journal.Entry{Kind: journal.StepSucceeded, Step: "a", Attempt: 1}))
	before, _ := h.load("run-2")
	h.advance(time.Second)
	h.must(h.s.Append(ctx, "run-2", "w2", journal.Update{Release: true}))
	before.LeaseOwner, before.LeaseExpiry = "", time.Time{}
	h.unchanged("run-2", before, 3)
	claimed, err = h.s.Claim(ctx, "w3", time.Minute, 10)
	h.must(err)
	h.diff("runs claimed after a Release-only Append", ids(claimed), []string{"run-2"})
}

// testAppendReleaseRefused checks that an Append with Update.Release by
// a worker that does not hold the lease fails as any Append does, having
// written nothing: the lease stays where it was.
func testAppendReleaseRefused(h *harness) {
	ctx := h.t.Context()
	run := h.create("run-1", journal.Running, "w1", time.Minute)
	u := journal.Update{Status: journal.Succeeded, Ended: true, Release: true}
	end := journal.Entry{Kind: journal.RunEnded, Status: journal.Succeeded}
	h.wantErr(h.s.Append(ctx, "run-1", "w2", u, end), journal.ErrLeaseLost)
	h.wantErr(h.s.Append(ctx, "run-1", "w2", journal.Update{Release: true}), journal.ErrLeaseLost)
	h.unchanged("run-1", run, 1)
	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"}))

	h.advance(time.Minute) // w1's lease expires
	h.wantErr(h.s.Append(ctx, "run-1", "w1", u, end), journal.ErrLeaseLost)
	h.wantErr(h.s.Append(ctx, "run-1", "w1", journal.Update{Release: true}), journal.ErrLeaseLost)
	h.unchanged("run-1", run, 2)

	h.create("free", journal.Running, "", 0)
	free, _ := h.load("free")
	h.wantErr(h.s.Append(ctx, "free", "w1", journal.Update{Release: true}), journal.ErrLeaseLost)
	h.unchanged("free", free, 1)
	h.wantErr(h.s.Append(ctx, "nope", "w1", journal.Update{Release: true}), journal.ErrNotFound)
}

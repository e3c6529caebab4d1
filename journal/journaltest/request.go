package journaltest

import (
	"errors"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// The subtests of Request.

func testRequest(h *harness) {
	ctx := h.t.Context()
	run := h.create("run-1", journal.Paused, "w1", time.Hour) // leased to someone else
	h.advance(time.Second)
	req := journal.Request{Verb: journal.RetryStep, Step: "charge", Note: "card fixed"}
	h.must(h.s.Request(ctx, "run-1", req))

	got, es := h.load("run-1")
	want := run
	want.Request, want.Note, want.Updated = req, "card fixed", h.now()
	h.diff("run", got, want)
	h.entries(es, []journal.Entry{
		{Kind: journal.RunStarted, At: run.Created},
		{Kind: journal.RequestMade, Verb: journal.RetryStep, Step: "charge", Note: "card fixed", At: h.now()},
	})

	h.wantSome(h.s.Request(ctx, "run-1", journal.Request{Note: "no verb"}), "Request without a verb")
}

func testRequestFinal(h *harness) {
	ctx := h.t.Context()
	for _, st := range []journal.Status{journal.Succeeded, journal.Compensated, journal.Resolved, journal.Abandoned} {
		run := h.create(string(st), st, "", 0)
		h.wantErr(h.s.Request(ctx, run.ID, journal.Request{Verb: journal.Resume}), journal.ErrFinal)
		h.unchanged(run.ID, run, 1)
	}
	for _, st := range []journal.Status{journal.Running, journal.Compensating, journal.Paused, journal.CompensationFailed, journal.Failed, journal.Blocked} {
		h.create(string(st), st, "", 0)
		h.must(h.s.Request(ctx, string(st), journal.Request{Verb: journal.Compensate}))
	}
}

func testRequestNotFound(h *harness) {
	err := h.s.Request(h.t.Context(), "nope", journal.Request{Verb: journal.Resume})
	h.wantErr(err, journal.ErrNotFound)
}

// testRequestClaim follows a request from the operator to a worker: a
// paused run needs no worker until it has a request, and none after the
// worker carried it out.
func testRequestClaim(h *harness) {
	ctx := h.t.Context()
	h.create("run-1", journal.Paused, "", 0)
	got, err := h.s.Claim(ctx, "w1", time.Minute, 10)
	h.must(err)
	h.diff("runs claimed before the request", ids(got), []string{})

	h.must(h.s.Request(ctx, "run-1", journal.Request{Verb: journal.Resolve, Note: "done by hand"}))
	got, err = h.s.Claim(ctx, "w1", time.Minute, 10)
	h.must(err)
	h.diff("runs claimed after the request", ids(got), []string{"run-1"})
	h.diff("claimed request", got[0].Request, journal.Request{Verb: journal.Resolve, Note: "done by hand"})

	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{Status: journal.Resolved, Ended: true, ClearRequest: true},
		journal.Entry{Kind: journal.RequestCarriedOut, Note: "done by hand"},
		journal.Entry{Kind: journal.RunEnded, Status: journal.Resolved}))
	h.must(h.s.Release(ctx, "run-1", "w1"))
	got, err = h.s.Claim(ctx, "w2", time.Minute, 10)
	h.must(err)
	h.diff("runs claimed after the request was carried out", ids(got), []string{})
	h.wantErr(h.s.Request(ctx, "run-1", journal.Request{Verb: journal.Resume}), journal.ErrFinal)
}

// testRequestPending: a run holds one pending request; a second one is
// refused until a worker carried the first out (and cleared it).
func testRequestPending(h *harness) {
	ctx := h.t.Context()
	h.create("run-1", journal.Paused, "", 0)
	h.must(h.s.Request(ctx, "run-1", journal.Request{Verb: journal.Resume, Note: "first"}))
	before, _ := h.load("run-1")
	h.wantErr(h.s.Request(ctx, "run-1", journal.Request{Verb: journal.Compensate, Note: "second"}), journal.ErrPending)
	h.unchanged("run-1", before, 2)

	claimed, err := h.s.Claim(ctx, "w1", time.Minute, 10)
	h.must(err)
	h.diff("claimed request", claimed[0].Request, journal.Request{Verb: journal.Resume, Note: "first"})
	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{Status: journal.Running, ClearRequest: true},
		journal.Entry{Kind: journal.RequestCarriedOut, Verb: journal.Resume, Note: "first"}))
	h.must(h.s.Request(ctx, "run-1", journal.Request{Verb: journal.Compensate, Note: "second"}))

	// Two requests at once: one is recorded, the other refused.
	h.create("run-2", journal.Paused, "", 0)
	errs := make(chan error, 2)
	for _, v := range []journal.Verb{journal.Resume, journal.Abandon} {
		go func() { errs <- h.s.Request(ctx, "run-2", journal.Request{Verb: v}) }()
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) {
		h.t.Fatalf("two requests at once: errors %v and %v, want one recorded and one refused with ErrPending", e1, e2)
	}
	if e := errors.Join(e1, e2); !errors.Is(e, journal.ErrPending) {
		h.t.Fatalf("the refused request failed with %v, want ErrPending", e)
	}
	_, es := h.load("run-2")
	if len(es) != 2 {
		h.t.Fatalf("%d entries after two requests at once, want 2", len(es))
	}
}

// testRequestSeen: a request that names the newest entry its maker read
// is recorded while the journal ends there, and refused with ErrStale,
// recording nothing, once the journal has gone on; the pending request
// keeps no Seen.
func testRequestSeen(h *harness) {
	ctx := h.t.Context()
	h.create("run-1", journal.Running, "w1", time.Hour)
	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{Status: journal.Paused, Release: true},
		journal.Entry{Kind: journal.StepFailed, Step: "ship", Attempt: 1, Error: "boom"},
		journal.Entry{Kind: journal.RunPaused}))
	_, es := h.load("run-1")
	seen := es[len(es)-1].Seq

	// Someone else acts on the run, which pauses anew: a decision made
	// on the first pause is refused.
	h.must(h.s.Request(ctx, "run-1", journal.Request{Verb: journal.Resume, Note: "first", Seen: seen}))
	run, _ := h.load("run-1")
	h.diff("pending request", run.Request, journal.Request{Verb: journal.Resume, Note: "first"})
	acquired, err := h.s.Acquire(ctx, "run-1", "w2", time.Hour)
	h.must(err)
	h.must(h.s.Append(ctx, "run-1", "w2", journal.Update{Status: journal.Paused, ClearRequest: true, Release: true, Lease: acquired.LeaseToken},
		journal.Entry{Kind: journal.RequestCarriedOut, Verb: journal.Resume},
		journal.Entry{Kind: journal.StepStarted, Step: "ship", Attempt: 2},
		journal.Entry{Kind: journal.RunPaused, Error: "outcome unknown"}))
	before, es := h.load("run-1")
	h.wantErr(h.s.Request(ctx, "run-1", journal.Request{Verb: journal.Resume, Note: "stale", Seen: seen}), journal.ErrStale)
	h.unchanged("run-1", before, len(es))

	// Decided on the journal as it is now: recorded.
	h.must(h.s.Request(ctx, "run-1", journal.Request{Verb: journal.Compensate, Note: "undo", Seen: es[len(es)-1].Seq}))
	run, _ = h.load("run-1")
	h.diff("pending request", run.Request, journal.Request{Verb: journal.Compensate, Note: "undo"})
}

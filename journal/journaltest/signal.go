package journaltest

import (
	"time"

	"github.com/sagakit/sagakit/journal"
)

// The subtests of waiting runs and signals ([journal.Signaler]). A store
// that does not implement it skips them.

// signaler returns h's store as a Signaler, or skips the subtest.
func (h *harness) signaler() journal.Signaler {
	h.t.Helper()
	s, ok := h.s.(journal.Signaler)
	if !ok {
		h.t.Skip("the store does not implement journal.Signaler")
	}
	return s
}

// park sets run id (leased to w1) waiting, as a driver does, and releases
// it.
func (h *harness) park(id string, w journal.WaitFor) {
	h.t.Helper()
	ctx := h.t.Context()
	h.must(h.s.Append(ctx, id, "w1", journal.Update{Status: journal.Waiting, Wait: &w},
		journal.Entry{Kind: journal.StepWaiting, Step: "pay", Attempt: 1, Note: w.Event, At: h.now()}))
	h.must(h.s.Release(ctx, id, "w1"))
}

// claimed returns the IDs of the runs a claim takes now.
func (h *harness) claimed() []string {
	h.t.Helper()
	got, err := h.s.Claim(h.t.Context(), "w2", time.Minute, 10)
	h.must(err)
	for _, r := range got {
		h.must(h.s.Release(h.t.Context(), r.ID, "w2"))
	}
	return ids(got)
}

// A waiting run is claimed once a signal for its event arrives, not
// before, and not for another event; the deadline is the store's.
func testWaitSignal(h *harness) {
	ctx := h.t.Context()
	sg := h.signaler()
	h.create("run-1", journal.Running, "w1", time.Hour)
	h.park("run-1", journal.WaitFor{Event: "paid", For: time.Hour})
	got, _ := h.load("run-1")
	h.diff("waiting", got.Status, journal.Waiting)
	h.diff("wait", got.Wait, journal.Wait{Event: "paid", Until: h.now().Add(time.Hour)})
	h.diff("claimed while waiting", h.claimed(), []string{})

	ok, err := sg.Signal(ctx, "run-1", journal.Signal{Event: "shipped", Payload: []byte(`1`)})
	h.must(err)
	h.diff("recorded", ok, true)
	h.diff("claimed after another event", h.claimed(), []string{})

	h.advance(time.Second)
	ok, err = sg.Signal(ctx, "run-1", journal.Signal{Event: "paid", Payload: []byte(`{"amount":5}`), Delivery: "d-1"})
	h.must(err)
	h.diff("recorded", ok, true)
	got, _ = h.load("run-1")
	h.diff("woken", got.Wait.Woken, true)
	h.diff("claimed after its event", h.claimed(), []string{"run-1"})

	sigs, err := sg.Signals(ctx, "run-1")
	h.must(err)
	if len(sigs) != 2 || sigs[0].Event != "shipped" || sigs[1].Event != "paid" || sigs[0].ID >= sigs[1].ID {
		h.t.Fatalf("signals: %+v, want shipped then paid, increasing IDs", sigs)
	}
	h.diff("payload", string(sigs[1].Payload), `{"amount":5}`)
	h.diff("delivery", sigs[1].Delivery, "d-1")
	h.diff("at", sigs[1].At, h.now())

	// A worker takes the run and consumes the signal: it is gone, and a
	// run no longer waiting has no Wait.
	claimed, err := h.s.Claim(ctx, "w1", time.Minute, 1)
	h.must(err)
	h.diff("claimed", ids(claimed), []string{"run-1"})
	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{Status: journal.Running, Consume: []int64{sigs[1].ID}},
		journal.Entry{Kind: journal.WaitEnded, Step: "pay", Attempt: 1, Note: "paid", State: sigs[1].Payload, At: h.now()}))
	sigs, err = sg.Signals(ctx, "run-1")
	h.must(err)
	if len(sigs) != 1 || sigs[0].Event != "shipped" {
		h.t.Fatalf("signals after consuming: %+v, want shipped alone", sigs)
	}
	got, _ = h.load("run-1")
	h.diff("wait after", got.Wait, journal.Wait{})
	h.diff("status after", got.Status, journal.Running)
}

// A signal that came before the run waits wakes it as it parks.
func testWaitSignalFirst(h *harness) {
	ctx := h.t.Context()
	sg := h.signaler()
	h.create("run-1", journal.Running, "w1", time.Hour)
	_, err := sg.Signal(ctx, "run-1", journal.Signal{Event: "paid"})
	h.must(err)
	h.park("run-1", journal.WaitFor{Event: "paid", For: time.Hour})
	got, _ := h.load("run-1")
	h.diff("woken", got.Wait.Woken, true)
	h.diff("claimed", h.claimed(), []string{"run-1"})

	// A timer (no event) is woken by no signal, before or after.
	h.create("run-2", journal.Running, "w1", time.Hour)
	_, err = sg.Signal(ctx, "run-2", journal.Signal{Event: "whatever"})
	h.must(err)
	h.park("run-2", journal.WaitFor{For: time.Hour})
	got, _ = h.load("run-2")
	h.diff("timer woken by a signal", got.Wait.Woken, false)
	_, err = sg.Signal(ctx, "run-2", journal.Signal{Event: "other"})
	h.must(err)
	got, _ = h.load("run-2")
	h.diff("timer woken by a later signal", got.Wait.Woken, false)
}

// A deadline passes on the store's clock: the run is claimed, and Due
// says why; a kept deadline stays as it was.
func testWaitDeadline(h *harness) {
	h.signaler()
	h.create("run-1", journal.Running, "w1", time.Hour)
	h.park("run-1", journal.WaitFor{Event: "paid", For: time.Minute})
	until := h.now().Add(time.Minute)
	h.advance(time.Minute - time.Millisecond)
	h.diff("claimed before the deadline", h.claimed(), []string{})
	got, _ := h.load("run-1")
	h.diff("not due", got.Wait.Due, false)
	h.advance(time.Millisecond)
	got, _ = h.load("run-1")
	h.diff("due", got.Wait, journal.Wait{Event: "paid", Until: until, Due: true})
	claimed, err := h.s.Claim(h.t.Context(), "w1", time.Minute, 10)
	h.must(err)
	h.diff("claimed at the deadline", ids(claimed), []string{"run-1"})
	h.diff("claimed due", claimed[0].Wait.Due, true)

	// Parked again with the deadline it had: it is kept, not moved.
	h.park("run-1", journal.WaitFor{Event: "paid", Until: until, For: time.Hour})
	got, _ = h.load("run-1")
	h.diff("kept deadline", got.Wait.Until, until)

	// No deadline: never due.
	h.create("run-2", journal.Running, "w1", time.Hour)
	h.park("run-2", journal.WaitFor{Event: "paid"})
	h.advance(1000 * time.Hour)
	got, _ = h.load("run-2")
	h.diff("no deadline", got.Wait, journal.Wait{Event: "paid"})
}

// A run set waiting by an Append that releases its lease, as a driver's
// last write does, is woken by a signal that came first and is claimable
// at once; by a worker without the lease, the Append changes nothing.
func testWaitRelease(h *harness) {
	ctx := h.t.Context()
	sg := h.signaler()
	h.create("run-1", journal.Running, "w1", time.Hour)
	run := h.create("run-2", journal.Running, "w1", time.Hour)
	for _, id := range []string{"run-1", "run-2"} {
		_, err := sg.Signal(ctx, id, journal.Signal{Event: "paid"})
		h.must(err)
	}
	park := func(id, owner string) error {
		return h.s.Append(ctx, id, owner, journal.Update{Status: journal.Waiting, Wait: &journal.WaitFor{Event: "paid"}, Release: true},
			journal.Entry{Kind: journal.StepWaiting, Step: "pay", Attempt: 1, Note: "paid", At: h.now()})
	}
	h.must(park("run-1", "w1"))
	got, _ := h.load("run-1")
	h.diff("woken", got.Wait.Woken, true)
	h.diff("lease owner", got.LeaseOwner, "")
	h.diff("claimed", h.claimed(), []string{"run-1"})

	h.wantErr(park("run-2", "w2"), journal.ErrLeaseLost)
	h.unchanged("run-2", run, 1)
	h.advance(time.Hour) // w1's lease expires
	h.wantErr(park("run-2", "w1"), journal.ErrLeaseLost)
	h.unchanged("run-2", run, 1)
}

// Signal refuses unknown and finished runs, changing nothing, and
// records a delivery once.
func testSignalRefused(h *harness) {
	ctx := h.t.Context()
	sg := h.signaler()
	_, err := sg.Signal(ctx, "nope", journal.Signal{Event: "paid"})
	h.wantErr(err, journal.ErrNotFound)
	for _, st := range []journal.Status{journal.Succeeded, journal.Compensated, journal.Resolved, journal.Abandoned} {
		run := h.create(string(st), st, "", 0)
		_, err := sg.Signal(ctx, run.ID, journal.Signal{Event: "paid"})
		h.wantErr(err, journal.ErrFinal)
		h.unchanged(run.ID, run, 1)
		sigs, err := sg.Signals(ctx, run.ID)
		h.must(err)
		h.diff("signals of "+run.ID, len(sigs), 0)
	}
	h.create("run-1", journal.Running, "w1", time.Hour)
	for k := range 2 {
		ok, err := sg.Signal(ctx, "run-1", journal.Signal{Event: "paid", Delivery: "webhook-7"})
		h.must(err)
		h.diff("recorded", ok, k == 0)
	}
	// A retried delivery is answered as the first one even once the run
	// has ended; a new one is refused.
	h.create("run-3", journal.Running, "w1", time.Hour)
	_, err = sg.Signal(ctx, "run-3", journal.Signal{Event: "paid", Delivery: "webhook-9"})
	h.must(err)
	h.must(h.s.Append(ctx, "run-3", "w1", journal.Update{Status: journal.Succeeded, Ended: true}))
	ok, err := sg.Signal(ctx, "run-3", journal.Signal{Event: "paid", Delivery: "webhook-9"})
	h.must(err)
	h.diff("retried after the end", ok, false)
	_, err = sg.Signal(ctx, "run-3", journal.Signal{Event: "paid", Delivery: "webhook-10"})
	h.wantErr(err, journal.ErrFinal)
	_, err = sg.Signal(ctx, "run-3", journal.Signal{Event: "paid"})
	h.wantErr(err, journal.ErrFinal)

	// The same delivery ID on another run is another delivery.
	h.create("run-2", journal.Running, "w1", time.Hour)
	ok, err = sg.Signal(ctx, "run-2", journal.Signal{Event: "paid", Delivery: "webhook-7"})
	h.must(err)
	h.diff("recorded on run-2", ok, true)
	sigs, err := sg.Signals(ctx, "run-1")
	h.must(err)
	h.diff("signals", len(sigs), 1)
	_, err = sg.Signals(ctx, "nope")
	h.wantErr(err, journal.ErrNotFound)
}

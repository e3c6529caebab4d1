package journaltest

import (
	"time"

	"github.com/sagakit/sagakit/journal"
)

// The subtests of Create, Append and Update.

func testCreate(h *harness) {
	in := journal.Run{
		ID:          "run-1",
		Saga:        "order",
		Fingerprint: "fp1",
		Status:      journal.Running,
		State:       []byte(`{"sku":"A1"}`),
		Note:        "first",
		LeaseOwner:  "w1",
		LeaseExpiry: h.now().Add(time.Minute),
		LeaseToken:  7, // ignored: the store grants token 1
	}
	es := []journal.Entry{
		{Kind: journal.RunStarted, At: h.now().Add(-time.Millisecond)},
		{Kind: journal.StepStarted, Step: "reserve", Attempt: 1, State: []byte(`{"sku":"A1"}`), At: h.now().Add(3)},
	}
	h.must(h.s.Create(h.t.Context(), in, es...))

	got, gotEs := h.load("run-1")
	want := in
	want.Created, want.Updated, want.LeaseToken = h.now(), h.now(), 1
	h.diff("run", got, want)
	h.entries(gotEs, es)
}

func testCreateExists(h *harness) {
	want := h.create("run-1", journal.Running, "w1", time.Minute)
	h.advance(time.Second)
	err := h.s.Create(h.t.Context(), journal.Run{ID: "run-1", Saga: "other", Status: journal.Paused},
		journal.Entry{Kind: journal.RunStarted})
	h.wantErr(err, journal.ErrExists)

	got, es := h.load("run-1")
	h.diff("run", got, want)
	if len(es) != 1 {
		h.t.Fatalf("got %d entries, want 1", len(es))
	}
}

func testCreateEmptyID(h *harness) {
	err := h.s.Create(h.t.Context(), journal.Run{Saga: "order", Status: journal.Running})
	h.wantSome(err, "Create with an empty ID")
}

// testCopies checks that a store keeps copies of what it is given and
// returns copies of what it keeps.
func testCopies(h *harness) {
	state := []byte(`{"n":1}`)
	entryState := []byte(`{"n":2}`)
	run := journal.Run{ID: "run-1", Saga: "order", Status: journal.Running, State: state,
		LeaseOwner: "w1", LeaseExpiry: h.now().Add(time.Minute)}
	h.must(h.s.Create(h.t.Context(), run, journal.Entry{Kind: journal.StepStarted, Step: "a", State: entryState}))
	appended := []byte(`{"n":3}`)
	h.must(h.s.Append(h.t.Context(), "run-1", "w1", journal.Update{State: appended},
		journal.Entry{Kind: journal.StepSucceeded, Step: "a", State: appended}))
	state[1], entryState[1], appended[1] = 'X', 'X', 'X'

	r, es := h.load("run-1")
	h.diff("state", string(r.State), `{"n":3}`)
	h.diff("entry states", []string{string(es[0].State), string(es[1].State)}, []string{`{"n":2}`, `{"n":3}`})

	r.State[1], es[0].State[1] = 'Y', 'Y'
	r, es = h.load("run-1")
	h.diff("state after changing a loaded copy", string(r.State), `{"n":3}`)
	h.diff("entry state after changing a loaded copy", string(es[0].State), `{"n":2}`)
}

func testAppend(h *harness) {
	run := h.create("run-1", journal.Running, "w1", time.Minute)
	h.advance(time.Second)
	state := []byte(`{"n":1}`)
	add := []journal.Entry{
		{Kind: journal.StepSucceeded, Step: "reserve", Attempt: 1, Attempts: 2, State: state, At: h.now()},
		{Kind: journal.StepStarted, Step: "charge", Attempt: 1, At: h.now()},
	}
	h.must(h.s.Append(h.t.Context(), "run-1", "w1", journal.Update{State: state}, add...))

	got, es := h.load("run-1")
	want := run
	want.State, want.Updated = state, h.now()
	h.diff("run", got, want)
	h.entries(es, append([]journal.Entry{{Kind: journal.RunStarted, At: run.Created}}, add...))
}

// unchanged checks that run id still has header want and n entries.
func (h *harness) unchanged(id string, want journal.Run, n int) {
	h.t.Helper()
	got, es := h.load(id)
	h.diff("run after a failed call", got, want)
	if len(es) != n {
		h.t.Fatalf("got %d entries after a failed call, want %d", len(es), n)
	}
}

func testAppendWrongOwner(h *harness) {
	run := h.create("run-1", journal.Running, "w1", time.Minute)
	err := h.s.Append(h.t.Context(), "run-1", "w2", journal.Update{Status: journal.Failed, State: []byte("x")},
		journal.Entry{Kind: journal.StepStarted, Step: "a"})
	h.wantErr(err, journal.ErrLeaseLost)
	h.unchanged("run-1", run, 1)
}

func testAppendExpiredLease(h *harness) {
	run := h.create("run-1", journal.Running, "w1", time.Minute)
	h.advance(time.Minute - time.Nanosecond)
	h.must(h.s.Append(h.t.Context(), "run-1", "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"}))

	h.advance(time.Nanosecond) // the lease expires at its expiry
	err := h.s.Append(h.t.Context(), "run-1", "w1", journal.Update{Status: journal.Failed},
		journal.Entry{Kind: journal.StepFailed, Step: "a"})
	h.wantErr(err, journal.ErrLeaseLost)
	h.unchanged("run-1", run, 2)
}

func testAppendUnleased(h *harness) {
	run := h.create("run-1", journal.Running, "", 0)
	err := h.s.Append(h.t.Context(), "run-1", "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"})
	h.wantErr(err, journal.ErrLeaseLost)
	h.unchanged("run-1", run, 1)
}

func testAppendNotFound(h *harness) {
	err := h.s.Append(h.t.Context(), "nope", "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"})
	h.wantErr(err, journal.ErrNotFound)
}

func testAppendBadInput(h *harness) {
	run := h.create("run-1", journal.Running, "", 0)
	err := h.s.Append(h.t.Context(), "run-1", "", journal.Update{}, journal.Entry{Kind: journal.StepStarted})
	h.wantSome(err, "Append with an empty owner on an unleased run")
	err = h.s.Append(h.t.Context(), "", "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted})
	h.wantSome(err, "Append with an empty run ID")
	h.unchanged("run-1", run, 1)
}

func testUpdateFields(h *harness) {
	run := h.create("run-1", journal.Running, "w1", time.Hour)
	ctx := h.t.Context()
	boom := "boom"
	empty := ""

	h.advance(time.Second)
	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{Status: journal.Compensating, Error: &boom, State: []byte("s1")}))
	want := run
	want.Status, want.Error, want.State, want.Updated = journal.Compensating, "boom", []byte("s1"), h.now()
	got, _ := h.load("run-1")
	h.diff("run after setting Status, Error and State", got, want)

	h.advance(time.Second)
	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{}, journal.Entry{Kind: journal.CompStarted, Step: "a"}))
	got, _ = h.load("run-1")
	h.diff("run after a zero Update (Updated stays)", got, want)

	h.advance(time.Second)
	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{Error: &empty, State: []byte{}}))
	want.Error, want.State, want.Updated = "", nil, h.now()
	got, _ = h.load("run-1")
	h.diff("run after clearing Error and State", got, want)
	if !got.Ended.IsZero() {
		h.t.Fatalf("Ended = %v before the run ended", got.Ended)
	}
}

// testUpdated checks when Append moves Updated: never for an empty
// Update, whatever the entries carry; always for an Update with a field
// set, even to the value the header has.
func testUpdated(h *harness) {
	ctx := h.t.Context()
	run := h.create("run-1", journal.Running, "w1", time.Hour)
	h.advance(time.Second)
	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{},
		journal.Entry{Kind: journal.StepSucceeded, Step: "a", Attempt: 1, Attempts: 1, State: []byte(`{"n":1}`)},
		journal.Entry{Kind: journal.StepFailed, Step: "b", Attempt: 1, Attempts: 1, Error: "boom"},
		journal.Entry{Kind: journal.RunEnded, Status: journal.Failed}))
	h.advance(time.Second)
	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{})) // no entries either
	h.unchanged("run-1", run, 4)

	// The lease calls leave Updated too.
	h.advance(time.Second)
	h.must(h.s.Renew(ctx, "run-1", "w1", time.Hour))
	h.must(h.s.Release(ctx, "run-1", "w1"))
	_, err := h.s.Acquire(ctx, "run-1", "w1", time.Hour)
	h.must(err)
	h.must(h.s.Release(ctx, "run-1", "w1"))
	claimed, err := h.s.Claim(ctx, "w1", time.Hour, 10)
	h.must(err)
	h.diff("runs claimed", ids(claimed), []string{"run-1"})
	run.LeaseExpiry = h.now().Add(time.Hour)
	run.LeaseToken = 3 // granted by Create, Acquire and Claim
	h.unchanged("run-1", run, 4)

	empty := ""
	for _, tc := range []struct {
		name string
		u    journal.Update
	}{
		{"Status (unchanged)", journal.Update{Status: journal.Running}},
		{"State (unchanged)", journal.Update{State: []byte(`{"n":0}`)}},
		{"Error (unchanged)", journal.Update{Error: &empty}},
		{"ClearRequest (none pending)", journal.Update{ClearRequest: true}},
		{"Ended", journal.Update{Ended: true}},
	} {
		h.advance(time.Second)
		h.must(h.s.Append(ctx, "run-1", "w1", tc.u))
		got, es := h.load("run-1")
		run.Updated = h.now()
		if tc.u.Ended {
			run.Ended = h.now()
		}
		h.diff("run after an Update setting "+tc.name, got, run)
		if len(es) != 4 {
			h.t.Fatalf("got %d entries after an Update without entries, want 4", len(es))
		}
	}
}

func testUpdateEnded(h *harness) {
	h.create("run-1", journal.Running, "w1", time.Hour)
	h.create("run-2", journal.Running, "w1", time.Hour)
	ctx := h.t.Context()
	h.advance(time.Minute)
	end := h.now().Add(-time.Second)
	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{Status: journal.Succeeded, Ended: true},
		journal.Entry{Kind: journal.StepSucceeded, Step: "a", At: end.Add(-time.Second)},
		journal.Entry{Kind: journal.RunEnded, Status: journal.Succeeded, At: end}))
	got, es := h.load("run-1")
	if !got.Ended.Equal(end) {
		h.t.Fatalf("Ended = %v, want the last entry's time %v", got.Ended, end)
	}
	if got.Status != journal.Succeeded || es[len(es)-1].Status != journal.Succeeded {
		h.t.Fatalf("status %q, last entry's status %q, want succeeded", got.Status, es[len(es)-1].Status)
	}

	h.must(h.s.Append(ctx, "run-2", "w1", journal.Update{Status: journal.Failed, Ended: true}))
	got, _ = h.load("run-2")
	if !got.Ended.Equal(h.now()) {
		h.t.Fatalf("Ended = %v with no entries, want now %v", got.Ended, h.now())
	}
}

func testUpdateClearRequest(h *harness) {
	h.create("run-1", journal.Paused, "w1", time.Hour)
	ctx := h.t.Context()
	req := journal.Request{Verb: journal.Resume, Note: "fixed"}
	h.must(h.s.Request(ctx, "run-1", req))

	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{Status: journal.Running}))
	got, _ := h.load("run-1")
	h.diff("request after an Append without ClearRequest", got.Request, req)

	h.must(h.s.Append(ctx, "run-1", "w1", journal.Update{ClearRequest: true},
		journal.Entry{Kind: journal.RequestCarriedOut, Note: "fixed"}))
	got, es := h.load("run-1")
	h.diff("request after ClearRequest", got.Request, journal.Request{})
	h.diff("note after ClearRequest", got.Note, "fixed")
	h.diff("last entry", es[len(es)-1].Kind, journal.RequestCarriedOut)
}

func testSeqPerRun(h *harness) {
	ctx := h.t.Context()
	h.create("run-1", journal.Running, "w1", time.Hour)
	h.create("run-2", journal.Running, "w1", time.Hour)
	for i := range 5 {
		for _, id := range []string{"run-1", "run-2"} {
			h.must(h.s.Append(ctx, id, "w1", journal.Update{},
				journal.Entry{Kind: journal.StepSucceeded, Step: runID(i)},
				journal.Entry{Kind: journal.StepStarted, Step: runID(i + 1)}))
		}
	}
	for _, id := range []string{"run-1", "run-2"} {
		_, es := h.load(id)
		if len(es) != 11 {
			h.t.Fatalf("%s: got %d entries, want 11", id, len(es))
		}
		for i := 1; i < len(es); i++ {
			if es[i].Seq <= es[i-1].Seq {
				h.t.Fatalf("%s: entry %d has Seq %d after %d", id, i, es[i].Seq, es[i-1].Seq)
			}
			if want := runID(i / 2); es[i].Step != want {
				h.t.Fatalf("%s: entry %d is of step %q, want %q (out of order)", id, i, es[i].Step, want)
			}
		}
	}
}

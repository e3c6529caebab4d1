package journaltest

import (
	"time"

	"github.com/sagakit/sagakit/journal"
)

// The subtests of Load and List.

func testLoadNotFound(h *harness) {
	_, _, err := h.s.Load(h.t.Context(), "nope")
	h.wantErr(err, journal.ErrNotFound)
}

func testList(h *harness) {
	ctx := h.t.Context()
	mk := func(id, saga string, st journal.Status) journal.Run {
		h.advance(time.Second)
		r := journal.Run{ID: id, Saga: saga, Fingerprint: "fp", Status: st, State: []byte(id)}
		h.must(h.s.Create(ctx, r))
		r.Created, r.Updated = h.now(), h.now()
		return r
	}
	a := mk("a", "order", journal.Running)
	b := mk("b", "order", journal.Succeeded)
	c := mk("c", "ship", journal.Paused)
	d := mk("d", "order", journal.Failed)

	all, err := h.s.List(ctx, journal.Filter{})
	h.must(err)
	h.diff("List of everything", all, []journal.Run{d, c, b, a})

	for _, tc := range []struct {
		name string
		f    journal.Filter
		want []string
	}{
		{"status", journal.Filter{Status: []journal.Status{journal.Running, journal.Paused}}, []string{"c", "a"}},
		{"one status", journal.Filter{Status: []journal.Status{journal.Compensated}}, []string{}},
		{"saga", journal.Filter{Saga: "order"}, []string{"d", "b", "a"}},
		{"unknown saga", journal.Filter{Saga: "nope"}, []string{}},
		{"created after (exclusive)", journal.Filter{CreatedAfter: a.Created}, []string{"d", "c", "b"}},
		{"created before (exclusive)", journal.Filter{CreatedBefore: d.Created}, []string{"c", "b", "a"}},
		{"created between", journal.Filter{CreatedAfter: a.Created, CreatedBefore: d.Created}, []string{"c", "b"}},
		{"limit", journal.Filter{Limit: 2}, []string{"d", "c"}},
		{"all together", journal.Filter{
			Status: []journal.Status{journal.Failed, journal.Running}, Saga: "order",
			CreatedBefore: h.now().Add(time.Hour), Limit: 1,
		}, []string{"d"}},
	} {
		got, err := h.s.List(ctx, tc.f)
		h.must(err)
		h.diff("List by "+tc.name, ids(got), tc.want)
	}
}

func testListCopies(h *harness) {
	h.create("run-1", journal.Running, "", 0)
	runs, err := h.s.List(h.t.Context(), journal.Filter{})
	h.must(err)
	runs[0].State[0] = 'X'
	got, _ := h.load("run-1")
	h.diff("state after changing a listed copy", string(got.State), `{"n":0}`)
}

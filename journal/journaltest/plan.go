package journaltest

import (
	"github.com/sagakit/sagakit/journal"
)

// The subtests of plans ([journal.Planner]). A store that does not
// implement it skips them.

func testPlans(h *harness) {
	ctx := h.t.Context()
	pl, ok := h.s.(journal.Planner)
	if !ok {
		h.t.Skip("the store does not implement journal.Planner")
	}
	p := journal.Plan{Fingerprint: "fp1", Saga: "trip", Steps: []journal.PlanStep{
		{Name: "debit", Kind: "compensatable"},
		{Name: "flight", Kind: "compensatable", After: []string{"debit"}},
		{Name: "hotel", Kind: "pivot", After: []string{"debit", "flight"}},
		{Name: "email", Kind: "retriable"},
	}}
	_, err := pl.LoadPlan(ctx, "fp1")
	h.wantErr(err, journal.ErrNotFound)
	h.must(pl.SavePlan(ctx, p))
	got, err := pl.LoadPlan(ctx, "fp1")
	h.must(err)
	h.diff("plan", got, p)

	// A fingerprint names one plan: saving it again changes nothing.
	other := p
	other.Saga, other.Steps = "changed", nil
	h.must(pl.SavePlan(ctx, other))
	got, err = pl.LoadPlan(ctx, "fp1")
	h.must(err)
	h.diff("plan saved again", got, p)

	// What the caller keeps is its own.
	p.Steps[1].After[0] = "mutated"
	got, err = pl.LoadPlan(ctx, "fp1")
	h.must(err)
	h.diff("after", got.Steps[1].After, []string{"debit"})

	h.wantSome(pl.SavePlan(ctx, journal.Plan{Saga: "x"}), "SavePlan without a fingerprint")
}

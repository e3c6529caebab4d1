package runview_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/runview"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, d)
	}
}

var base = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// at is base plus ms milliseconds.
func at(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }

// journalOf is a memory store whose clock the test sets, holding runs
// journaled entry by entry with the times the test gives.
type journalOf struct {
	t     *testing.T
	store *journal.Memory
	now   time.Time
}

func newJournal(t *testing.T) *journalOf {
	j := &journalOf{t: t, now: base}
	j.store = journal.NewMemory(journal.WithClock(func() time.Time { return j.now }))
	return j
}

const owner = "worker-1"

// plan records a plan; steps are "name", "name:kind" or
// "name:kind:after1,after2".
func (j *journalOf) plan(saga, fingerprint string, steps ...string) {
	p := journal.Plan{Fingerprint: fingerprint, Saga: saga}
	for _, s := range steps {
		parts := strings.Split(s, ":")
		ps := journal.PlanStep{Name: parts[0], Kind: "compensatable"}
		if len(parts) > 1 && parts[1] != "" {
			ps.Kind = parts[1]
		}
		if len(parts) > 2 {
			ps.After = strings.Split(parts[2], ",")
		}
		p.Steps = append(p.Steps, ps)
	}
	if err := j.store.SavePlan(context.Background(), p); err != nil {
		j.t.Fatal(err)
	}
}

// create starts a run at ms.
func (j *journalOf) create(id, saga, fingerprint string, ms int) {
	j.now = at(ms)
	err := j.store.Create(context.Background(), journal.Run{
		ID: id, Saga: saga, Fingerprint: fingerprint, Status: journal.Running,
		State: []byte(`{"n":0}`), LeaseOwner: owner, LeaseExpiry: at(ms + 30000),
	}, journal.Entry{Kind: journal.RunStarted, State: []byte(`{"n":0}`), At: at(ms)})
	if err != nil {
		j.t.Fatal(err)
	}
}

// add appends an entry at ms, with update u.
func (j *journalOf) add(id string, ms int, u journal.Update, e journal.Entry) {
	j.now = at(ms)
	e.At = at(ms)
	if err := j.store.Append(context.Background(), id, owner, u, e); err != nil {
		j.t.Fatal(err)
	}
}

func (j *journalOf) step(id string, ms int, kind journal.Kind, step string, exec int, errText string) {
	e := journal.Entry{Kind: kind, Step: step, Attempt: exec, Error: errText}
	if kind != journal.StepStarted && kind != journal.CompStarted && kind != journal.StepWaiting {
		e.Attempts = 1
	}
	j.add(id, ms, journal.Update{}, e)
}

func (j *journalOf) end(id string, ms int, status journal.Status, errText string) {
	u := journal.Update{Status: status, Ended: true}
	if errText != "" {
		u.Error = &errText
	}
	kind := journal.RunEnded
	if status == journal.Paused {
		kind = journal.RunPaused
	}
	j.add(id, ms, u, journal.Entry{Kind: kind, Status: status, Error: errText})
	if err := j.store.Release(context.Background(), id, owner); err != nil {
		j.t.Fatal(err)
	}
}

// orders journals the runs the tests look at.
func orders(t *testing.T) *journalOf {
	j := newJournal(t)
	j.plan("order", "fp-order", "reserve", "charge", "ship:pivot", "email:retriable")
	j.plan("trip", "fp-trip", "debit", "flight::debit", "hotel::debit", "car::debit", "confirm::flight,hotel,car")

	// order-1001: succeeded.
	j.create("order-1001", "order", "fp-order", 0)
	for k, s := range []string{"reserve", "charge", "ship", "email"} {
		j.step("order-1001", 100*k+1, journal.StepStarted, s, 1, "")
		j.step("order-1001", 100*k+100, journal.StepSucceeded, s, 1, "")
	}
	j.end("order-1001", 400, journal.Succeeded, "")

	// order-1002: charge declined, reserve compensated.
	j.create("order-1002", "order", "fp-order", 60_000)
	j.step("order-1002", 60_001, journal.StepStarted, "reserve", 1, "")
	j.step("order-1002", 60_150, journal.StepSucceeded, "reserve", 1, "")
	j.step("order-1002", 60_151, journal.StepStarted, "charge", 1, "")
	j.step("order-1002", 60_450, journal.StepFailed, "charge", 1, "card declined")
	j.add("order-1002", 60_451, journal.Update{Status: journal.Compensating}, journal.Entry{Kind: journal.CompStarted, Step: "reserve", Attempt: 1})
	j.step("order-1002", 60_600, journal.CompSucceeded, "reserve", 1, "")
	j.end("order-1002", 60_600, journal.Compensated, `saga "order": step "charge" failed: card declined`)

	// order-1003: paused at charge, a resume requested.
	j.create("order-1003", "order", "fp-order", 120_000)
	j.step("order-1003", 120_001, journal.StepStarted, "reserve", 1, "")
	j.step("order-1003", 120_100, journal.StepSucceeded, "reserve", 1, "")
	j.step("order-1003", 120_101, journal.StepStarted, "charge", 1, "")
	j.step("order-1003", 120_300, journal.StepFailed, "charge", 1, "gateway timeout")
	j.end("order-1003", 120_300, journal.Paused, `saga "order": step "charge" failed: gateway timeout (paused)`)
	j.now = at(125_000)
	if err := j.store.Request(context.Background(), "order-1003", journal.Request{Verb: journal.Resume, Note: "gateway is back"}); err != nil {
		t.Fatal(err)
	}

	// trip-2001: hotel fails while flight and car run; all undone.
	j.create("trip-2001", "trip", "fp-trip", 180_000)
	j.step("trip-2001", 180_001, journal.StepStarted, "debit", 1, "")
	j.step("trip-2001", 180_100, journal.StepSucceeded, "debit", 1, "")
	j.step("trip-2001", 180_101, journal.StepStarted, "flight", 1, "")
	j.step("trip-2001", 180_101, journal.StepStarted, "hotel", 1, "")
	j.step("trip-2001", 180_102, journal.StepStarted, "car", 1, "")
	j.step("trip-2001", 180_250, journal.StepSucceeded, "flight", 1, "")
	j.step("trip-2001", 180_300, journal.StepFailed, "hotel", 1, "no rooms")
	j.step("trip-2001", 180_310, journal.StepCancelled, "car", 1, "context canceled")
	j.add("trip-2001", 180_311, journal.Update{Status: journal.Compensating}, journal.Entry{Kind: journal.CompStarted, Step: "flight", Attempt: 1})
	j.step("trip-2001", 180_400, journal.CompSucceeded, "flight", 1, "")
	j.step("trip-2001", 180_401, journal.CompStarted, "debit", 1, "")
	j.step("trip-2001", 180_500, journal.CompFailed, "debit", 1, "bank offline")
	j.end("trip-2001", 180_500, journal.CompensationFailed, `saga "trip": step "hotel" failed: no rooms; compensation of "debit" failed: bank offline`)

	// order-1004: waits for its payment.
	j.create("order-1004", "order", "fp-order", 240_000)
	j.step("order-1004", 240_001, journal.StepStarted, "reserve", 1, "")
	j.step("order-1004", 240_100, journal.StepSucceeded, "reserve", 1, "")
	j.step("order-1004", 240_101, journal.StepStarted, "charge", 1, "")
	j.add("order-1004", 240_120, journal.Update{Status: journal.Waiting, Wait: &journal.WaitFor{Event: "payment-confirmed", For: 30 * time.Minute}},
		journal.Entry{Kind: journal.StepWaiting, Step: "charge", Attempt: 1, Note: "payment-confirmed"})
	if err := j.store.Release(context.Background(), "order-1004", owner); err != nil {
		t.Fatal(err)
	}
	j.now = at(300_000)
	return j
}

func inspect(t *testing.T, j *journalOf, id string) *runview.Run {
	t.Helper()
	r, err := runview.Inspect(context.Background(), j.store, id, runview.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestInspectListsEveryStepOfThePlan(t *testing.T) {
	is := is.New(t)
	r := inspect(t, orders(t), "order-1002")
	is.Equal(r.Status, journal.Compensated)
	is.True(r.Planned)
	is.True(r.Sequential)
	is.Equal(r.ElapsedMS, 600.0)
	is.Equal(string(r.State), `{"n":0}`)
	var got []string
	for _, s := range r.Steps {
		got = append(got, s.Name+":"+s.Kind+":"+s.Status)
	}
	is.Equal(got, []string{"reserve:compensatable:compensated", "charge:compensatable:failed", "ship:pivot:pending", "email:retriable:pending"})
	charge, _ := r.Step("charge")
	is.Equal(charge.Executions, 1)
	is.Equal(charge.Attempts, 1)
	is.Equal(charge.StartMS, 151.0)
	is.Equal(charge.DurationMS, 299.0)
	is.Equal(charge.Error, "card declined")
	is.Equal(charge.IdempotencyKey, "order-1002/charge/1")
	reserve, _ := r.Step("reserve")
	is.Equal(*reserve.Compensation, runview.Compensation{Status: "succeeded", Attempts: 1, Start: at(60_451), End: at(60_600), StartMS: 451, DurationMS: 149})
	ship, _ := r.Step("ship")
	is.Equal(ship.Executions, 0)
	is.True(ship.Start.IsZero())
}

func TestInspectShowsRequestsAndWaits(t *testing.T) {
	is := is.New(t)
	j := orders(t)
	r := inspect(t, j, "order-1003")
	is.Equal(r.Status, journal.Paused)
	is.Equal(*r.Request, runview.Request{Verb: journal.Resume, Note: "gateway is back", Made: at(125_000)})
	is.Equal(r.Notes, []runview.Note{{At: at(125_000), Event: "requested", Verb: journal.Resume, Text: "gateway is back"}})
	is.Equal(r.Lease, nil)

	w := inspect(t, j, "order-1004")
	is.Equal(w.Status, journal.Waiting)
	is.Equal(w.Wait.Event, "payment-confirmed")
	is.Equal(w.Wait.Until, at(240_120).Add(30*time.Minute))
	charge, _ := w.Step("charge")
	is.Equal(charge.Status, "waiting")
	is.Equal(charge.Wait, w.Wait)

	_, err := j.store.Signal(context.Background(), "order-1004", journal.Signal{Event: "payment-confirmed", Payload: []byte(`{"id":"pay-1"}`), Delivery: "d-1"})
	is.NoErr(err)
	w = inspect(t, j, "order-1004")
	is.Equal(len(w.Signals), 1)
	is.Equal(string(w.Signals[0].Payload), `{"id":"pay-1"}`)
	is.True(w.Wait.Woken)
}

func TestInspectRefusedRequestIsANote(t *testing.T) {
	is := is.New(t)
	j := orders(t)
	id := "order-1003"
	_, err := j.store.Acquire(context.Background(), id, owner, time.Minute)
	is.NoErr(err)
	j.add(id, 126_000, journal.Update{ClearRequest: true}, journal.Entry{Kind: journal.RequestCarriedOut, Verb: journal.Resume, Note: "refused: the definition changed"})
	r := inspect(t, j, id)
	is.Equal(r.Request, nil)
	is.Equal(r.Notes[1], runview.Note{At: at(126_000), Event: "refused", Verb: journal.Resume, Text: "the definition changed"})
	is.Equal(r.Lease.Owner, owner)
}

func TestInspectEntries(t *testing.T) {
	is := is.New(t)
	r, err := runview.Inspect(context.Background(), orders(t).store, "order-1001", runview.Options{Entries: true})
	is.NoErr(err)
	is.Equal(len(r.Entries), 10)
	is.Equal(r.Entries[0].Kind, journal.RunStarted)
	is.Equal(string(r.Entries[0].State), `{"n":0}`)
	is.Equal(r.Entries[9].Status, journal.Succeeded)
}

// noPlans hides the memory store's plans.
type noPlans struct{ journal.Store }

func TestInspectWithoutPlanDrawsTheJournaledSteps(t *testing.T) {
	is := is.New(t)
	r, err := runview.Inspect(context.Background(), noPlans{orders(t).store}, "order-1002", runview.Options{})
	is.NoErr(err)
	is.True(!r.Planned)
	is.Equal(len(r.Steps), 2) // ship and email never started: unknown without the plan
	is.Equal(r.Steps[0].Kind, "")
	golden(t, "noplan.mmd", r.Mermaid())
}

func TestGraphOfARunColorsEachStep(t *testing.T) {
	j := orders(t)
	golden(t, "order-1002.mmd", inspect(t, j, "order-1002").Mermaid())
	golden(t, "order-1002.dot", inspect(t, j, "order-1002").DOT())
	golden(t, "trip-2001.mmd", inspect(t, j, "trip-2001").Mermaid())
	golden(t, "trip-2001.dot", inspect(t, j, "trip-2001").DOT())
	golden(t, "order-1004.mmd", inspect(t, j, "order-1004").Mermaid())
}

func TestTimelineOverlapsParallelSteps(t *testing.T) {
	is := is.New(t)
	tl := inspect(t, orders(t), "trip-2001").Timeline()
	var got []string
	for _, b := range tl.Bars {
		got = append(got, b.Phase+":"+b.Step+":"+b.Status)
	}
	is.Equal(got, []string{
		"action:debit:succeeded", "action:flight:succeeded", "action:hotel:failed", "action:car:cancelled",
		"compensation:flight:succeeded", "compensation:debit:failed",
	})
	// flight, hotel and car ran at once.
	is.True(tl.Bars[2].StartMS < tl.Bars[1].StartMS+tl.Bars[1].DurationMS)
	golden(t, "trip-2001.gantt.mmd", tl.Mermaid())
	golden(t, "trip-2001.txt", tl.Text(50))
	golden(t, "order-1002.txt", inspect(t, orders(t), "order-1002").Timeline().Text(40))
}

func TestTimelineOfAWaitingRunKeepsItsStepOpen(t *testing.T) {
	is := is.New(t)
	tl := inspect(t, orders(t), "order-1004").Timeline()
	is.Equal(len(tl.Bars), 2)
	is.Equal(tl.Bars[1].Status, "waiting")
	is.True(tl.Bars[1].Open)
	is.True(strings.Contains(tl.Mermaid(), "charge (waiting) :active, b1,"))
}

func TestListNewestFirstWithTheStepEachRunStandsAt(t *testing.T) {
	is := is.New(t)
	j := orders(t)
	rows, err := runview.List(context.Background(), j.store, runview.Query{Now: at(300_000)})
	is.NoErr(err)
	var got []string
	for _, r := range rows {
		got = append(got, r.ID+":"+string(r.Status)+":"+r.Step)
	}
	is.Equal(got, []string{
		"order-1004:waiting:charge", "trip-2001:compensation_failed:debit", "order-1003:paused:charge",
		"order-1002:compensated:charge", "order-1001:succeeded:",
	})
	is.Equal(rows[0].AgeMS, 60_000.0)
	is.Equal(rows[0].Wait.Event, "payment-confirmed")
	is.Equal(rows[3].DurationMS, 600.0)
	is.Equal(rows[2].Request.Verb, journal.Resume)

	rows, err = runview.List(context.Background(), j.store, runview.Query{Status: []journal.Status{journal.Paused, journal.Waiting}, Saga: "order", Limit: 1})
	is.NoErr(err)
	is.Equal(len(rows), 1)
	is.Equal(rows[0].ID, "order-1004")

	rows, err = runview.List(context.Background(), j.store, runview.Query{Since: at(150_000)})
	is.NoErr(err)
	is.Equal(len(rows), 2)
}

func TestRowJSONFieldNames(t *testing.T) {
	is := is.New(t)
	rows, err := runview.List(context.Background(), orders(t).store, runview.Query{Now: at(300_000), Saga: "order", Limit: 2})
	is.NoErr(err)
	b, err := json.MarshalIndent(rows, "", "  ")
	is.NoErr(err)
	golden(t, "rows.json", string(b)+"\n")
}

func TestRunJSONFieldNames(t *testing.T) {
	b, err := json.MarshalIndent(inspect(t, orders(t), "trip-2001"), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "trip-2001.json", string(b)+"\n")
}

func TestFindByPrefix(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	j := orders(t)
	id, err := runview.Find(ctx, j.store, "trip")
	is.NoErr(err)
	is.Equal(id, "trip-2001")
	id, err = runview.Find(ctx, j.store, "order-1003")
	is.NoErr(err)
	is.Equal(id, "order-1003")
	_, err = runview.Find(ctx, j.store, "order-100")
	var amb *runview.AmbiguousError
	is.True(errors.As(err, &amb))
	is.Equal(amb.Count, 4)
	is.Equal(err.Error(), `run ID prefix "order-100" matches 4 runs: order-1001, order-1002, order-1003, order-1004`)
	_, err = runview.Find(ctx, j.store, "nope")
	is.True(errors.Is(err, journal.ErrNotFound))
}

func TestSagaPlan(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	j := orders(t)
	p, run, err := runview.SagaPlan(ctx, j.store, "trip")
	is.NoErr(err)
	is.Equal(run.ID, "trip-2001")
	is.Equal(p.Len(), 5)
	is.True(!p.Sequential())
	_, _, err = runview.SagaPlan(ctx, j.store, "nope")
	is.True(errors.Is(err, journal.ErrNotFound))
	_, _, err = runview.SagaPlan(ctx, noPlans{j.store}, "trip")
	is.True(errors.Is(err, runview.ErrNoPlan))
}

func TestMillisAndAge(t *testing.T) {
	is := is.New(t)
	is.Equal(runview.Millis(0), "0s")
	is.Equal(runview.Millis(0.0125), "13µs")
	is.Equal(runview.Millis(12.345), "12.3ms")
	is.Equal(runview.Millis(1254), "1.25s")
	is.Equal(runview.Millis(200_400), "3m20s")
	is.Equal(runview.Age(59*time.Second), "59s")
	is.Equal(runview.Age(5*time.Minute+3*time.Second), "5m")
	is.Equal(runview.Age(3*time.Hour+20*time.Minute), "3h20m")
	is.Equal(runview.Age(2*time.Hour), "2h")
	is.Equal(runview.Age(100*time.Hour), "4d")
}

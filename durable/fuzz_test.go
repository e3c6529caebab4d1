package durable_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

// FuzzRecoverJournal builds a run's journal from fuzz input — any
// header, any entries (kinds, steps, execution numbers, snapshots), any
// signals — and has an engine inspect it, recover it, wake it and carry
// an operator verb out on it. Whatever the journal says, nothing panics
// or hangs, and every pass ends in a clear error or leaves the run in a
// status that needs no worker (ended, waiting, or set aside for a
// person), its lease released and its request carried out or refused.
//
//	go test -run '^$' -fuzz FuzzRecoverJournal -fuzztime 45s ./durable
func FuzzRecoverJournal(f *testing.F) {
	for _, seed := range fuzzJournalSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{b: data}
		clk := newClock()
		store := journal.NewMemory(journal.WithClock(clk.now))
		ctx := context.Background()

		var opts []durable.DefOption
		if in.pick(4) == 0 {
			opts = append(opts, durable.PauseOnFailure())
		}
		if in.pick(3) == 0 {
			opts = append(opts, durable.OnCrash(durable.CompensateAfterCrash))
		}
		var stepOpts []saga.StepOption
		if in.pick(2) == 0 {
			stepOpts = append(stepOpts, saga.Idempotent())
		}
		seq, graph := fuzzSequential(stepOpts...), fuzzGraph(stepOpts...)
		e := durable.NewEngine(store, durable.WithOwner("fuzz"), durable.WithLeaseTTL(ttl))
		if _, err := durable.Register(e, seq, opts...); err != nil {
			t.Fatal(err)
		}
		if _, err := durable.Register(e, graph, append(opts, durable.Limit(in.pick(3)))...); err != nil {
			t.Fatal(err)
		}

		// The run: made up from scratch, or journaled by a real run that
		// crashed, then corrupted.
		sg := []*saga.Saga[fuzzOrder]{seq, graph}[in.pick(2)]
		names := stepNames(sg)
		base := clk.now()
		var (
			run     journal.Run
			entries []journal.Entry
			clean   bool // a real journal, not corrupted
		)
		if in.pick(3) == 0 {
			run, entries = in.madeUp(sg, base)
		} else {
			run, entries = in.crashed(t, sg, opts, base)
			clean = !in.corrupt(&run, &entries, names, base)
		}
		halfDone := func(what string, run journal.Run, entries []journal.Entry) {
			t.Helper()
			if clean {
				checkHalfDone(t, what, sg, run, entries)
			}
		}
		halfDone("the run", run, entries)
		pass := func(what string, call func() (bool, error)) {
			t.Helper()
			r, es := drive(t, store, clk.now(), run.ID, what, call)
			halfDone(what, r, es)
		}
		if err := store.Create(ctx, run, entries...); err != nil {
			t.Fatal(err)
		}
		if in.pick(2) == 0 { // a plan for Inspect, as a definition's Run saves it
			p := journal.Plan{Fingerprint: run.Fingerprint, Saga: run.Saga}
			for i := range sg.Plan().Len() {
				d := sg.Plan().Decl(i)
				p.Steps = append(p.Steps, journal.PlanStep{Name: d.Name, Kind: d.Kind.String(), After: d.After})
			}
			_ = store.SavePlan(ctx, p)
		}
		for range in.pick(3) {
			_, _ = store.Signal(ctx, run.ID, journal.Signal{Event: []string{"ev", "other"}[in.pick(2)], Payload: in.payload()})
		}
		inspect(t, store, run.ID)

		// Recovery, once the store's clock says the lease and the
		// deadlines have passed.
		clk.advance(time.Duration(in.pick(3)) * ttl)
		pass("recover", func() (bool, error) {
			n, err := e.Recover(ctx, 0)
			return n > 0, err
		})
		inspect(t, store, run.ID)

		// The event a waiting step waits for, then recovery again.
		if in.pick(2) == 0 {
			_, _ = store.Signal(ctx, run.ID, journal.Signal{Event: "ev", Payload: in.payload()})
			clk.advance(time.Duration(in.pick(3)) * ttl)
			pass("recover after a signal", func() (bool, error) {
				n, err := e.Recover(ctx, 0)
				return n > 0, err
			})
		}

		// An operator verb, carried out at once.
		switch verb := in.pick(6); verb {
		case 1:
			pass("resume", func() (bool, error) { _, err := e.Resume(ctx, run.ID, "fuzz"); return true, err })
		case 2:
			step := in.step(names)
			pass("retry "+step, func() (bool, error) { _, err := e.RetryStep(ctx, run.ID, step, "fuzz"); return true, err })
		case 3:
			pass("compensate", func() (bool, error) { _, err := e.Compensate(ctx, run.ID, "fuzz"); return true, err })
		case 4:
			pass("resolve", func() (bool, error) { return true, e.Resolve(ctx, run.ID, "fuzz") })
		case 5:
			pass("abandon", func() (bool, error) { return true, e.Abandon(ctx, run.ID, "fuzz") })
		}
		inspect(t, store, run.ID)
	})
}

// drive runs one engine call on the run and checks how it left the run,
// which it returns. The call reports whether it took the run up (a
// recovery pass may find it leased, or needing no worker).
func drive(t *testing.T, store journal.Store, now time.Time, runID, what string, call func() (bool, error)) (journal.Run, []journal.Entry) {
	t.Helper()
	before, _, _ := store.Load(context.Background(), runID)
	type result struct {
		took bool
		err  error
	}
	done := make(chan result, 1)
	go func() {
		took, err := call()
		done <- result{took, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: still running after 20s", what)
	}
	err := res.err
	if err != nil && err.Error() == "" {
		t.Fatalf("%s: an error that says nothing: %#v", what, err)
	}
	run, entries, lerr := store.Load(context.Background(), runID)
	if lerr != nil {
		t.Fatalf("%s: %v", what, lerr)
	}
	if !res.took {
		if needsWorker(before, now) {
			t.Errorf("%s: the run needs a worker and its lease is free, yet it was not claimed:\n%s", what, journalText(before, entries))
		}
		return run, entries
	}
	if run.LeaseOwner == "fuzz" {
		t.Errorf("%s (error %v): the engine still holds the run's lease", what, err)
	}
	if err != nil {
		return run, entries // a clear error: the run is left for another try
	}
	switch {
	case run.Status.Unfinished():
		t.Errorf("%s: no error, yet the run is %s:\n%s", what, run.Status, journalText(run, entries))
	case run.Request.Verb != "":
		t.Errorf("%s: no error, yet the run's %s request is pending:\n%s", what, run.Request.Verb, journalText(run, entries))
	case run.Status == journal.Blocked && run.Error == "":
		t.Errorf("%s: the run is set aside without a reason", what)
	}
	return run, entries
}

// needsWorker reports whether Claim must take the run at now.
func needsWorker(run journal.Run, now time.Time) bool {
	needs := run.Status.Unfinished() || run.Request.Verb != "" || run.Wait.Woken || run.Wait.Due
	return needs && (run.LeaseOwner == "" || !now.Before(run.LeaseExpiry))
}

// checkHalfDone checks, on the journal of a real run (not corrupted),
// that the run is never left half-done: a run that ended failed, rather
// than compensated, must be past its pivot, the only point from which
// there is no way back. (testdata/fuzz holds the input that found a graph
// run whose step failed while another waited ended failed.)
func checkHalfDone(t *testing.T, what string, sg *saga.Saga[fuzzOrder], run journal.Run, entries []journal.Entry) {
	t.Helper()
	if run.Status != journal.Failed {
		return
	}
	if p := sg.Plan().Pivot(); p >= 0 {
		pivot := sg.Plan().Decl(p).Name
		for _, e := range entries {
			if e.Kind == journal.StepSucceeded && e.Step == pivot {
				return
			}
		}
	}
	t.Errorf("%s: the run failed before its pivot, left uncompensated:\n%s", what, journalText(run, entries))
}

// inspect reads the run as an operator tool does.
func inspect(t *testing.T, store journal.Store, runID string) {
	t.Helper()
	v, err := durable.Inspect(context.Background(), store, runID)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	if v.Report == nil || v.Report.RunID != runID {
		t.Fatalf("inspect: report %+v", v.Report)
	}
	seen := map[string]bool{}
	for _, s := range v.Report.Steps {
		if seen[s.Name] {
			t.Fatalf("inspect: step %q twice in the report", s.Name)
		}
		seen[s.Name] = true
	}
	_ = v.Report.String()
}

func journalText(run journal.Run, entries []journal.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  header: status %q, error %q, request %+v, wait %+v, state %q\n", run.Status, run.Error, run.Request, run.Wait, run.State)
	for _, e := range entries {
		fmt.Fprintf(&b, "  %d %s %q attempt %d/%d status %q verb %q error %q state %q\n",
			e.Seq, e.Kind, e.Step, e.Attempt, e.Attempts, e.Status, e.Verb, e.Error, e.State)
	}
	return b.String()
}

// madeUp is a run with any header and entries.
func (in *fuzzInput) madeUp(sg *saga.Saga[fuzzOrder], base time.Time) (journal.Run, []journal.Entry) {
	names := stepNames(sg)
	run := journal.Run{ID: "run-f", Saga: sg.Name(), Fingerprint: sg.Plan().Fingerprint(), Status: in.status(),
		State: in.snapshot(), Error: in.str(8)}
	in.header(&run, names, base)
	entries := make([]journal.Entry, in.pick(25))
	for k := range entries {
		entries[k] = in.entry(names, base)
	}
	return run, entries
}

// header changes the header's saga, request and wait, or not.
func (in *fuzzInput) header(run *journal.Run, names []string, base time.Time) {
	switch in.pick(6) {
	case 0:
		run.Saga = "ghost"
	case 1:
		run.Fingerprint = "an older definition"
	case 2:
		run.Saga = []string{"fz", "fg"}[in.pick(2)] // perhaps the other's fingerprint
	}
	if in.pick(3) == 0 {
		run.Request = journal.Request{Verb: in.verb(), Step: in.step(names), Note: in.str(4)}
	}
	if run.Status == journal.Waiting && in.pick(2) == 0 || in.pick(8) == 0 {
		run.Wait = journal.Wait{Event: []string{"ev", "", "other"}[in.pick(3)], Until: in.at(base)}
	}
}

func (in *fuzzInput) entry(names []string, base time.Time) journal.Entry {
	return journal.Entry{
		Kind: in.kind(), Step: in.step(names), Attempt: in.num(), Attempts: in.num(),
		Error: in.str(8), State: in.snapshot(), Status: in.status(), Verb: in.verb(), Note: in.str(4),
		At: in.at(base),
	}
}

// crashed is the journal of a real run of sg, whose process died after
// some journal writes, or that ended (failed, waiting, paused…).
func (in *fuzzInput) crashed(t *testing.T, sg *saga.Saga[fuzzOrder], opts []durable.DefOption, base time.Time) (journal.Run, []journal.Entry) {
	ctx := context.Background()
	store := journal.NewMemory(journal.WithClock(func() time.Time { return base }))
	dying := signalingCrash{crashAfter(store, in.pick(9)), store}
	dead := durable.NewEngine(dying, durable.WithOwner("dead"), durable.WithLeaseTTL(ttl))
	d, err := durable.Register(dead, sg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	o := fuzzOrder{Fail: []string{"", "", "a", "b", "c", "w", "p", "undo a", "undo b"}[in.pick(9)]}
	_, _ = d.Run(saga.WithRunID(ctx, "run-f"), &o)
	run, entries, err := store.Load(ctx, "run-f")
	if err != nil {
		t.Fatal(err) // the first write creates the run: it never fails
	}
	return run, entries
}

// signalingCrash is a store that dies after some writes (see crashAfter)
// and keeps events meanwhile, so that steps can wait.
type signalingCrash struct {
	*crashing
	journal.Signaler
}

// corrupt changes a journal as a bug, a bad migration or a hand edit
// might, and reports whether it changed anything but the lease.
func (in *fuzzInput) corrupt(run *journal.Run, entries *[]journal.Entry, names []string, base time.Time) bool {
	n := in.pick(6)
	for range n {
		es := *entries
		i := 0
		if len(es) > 0 {
			i = in.pick(len(es))
		}
		op := in.pick(12)
		if len(es) == 0 && op < 8 {
			op = 8
		}
		switch op {
		case 0:
			es = append(es[:i:i], es[i+1:]...)
		case 1:
			es = append(es[:i+1:i+1], es[i:]...)
		case 2:
			j := in.pick(len(es))
			es[i], es[j] = es[j], es[i]
		case 3:
			es[i].Kind = in.kind()
		case 4:
			es[i].Step = in.step(names)
		case 5:
			es[i].Attempt, es[i].Attempts = in.num(), in.num()
		case 6:
			es[i].State = in.snapshot()
		case 7:
			es = es[:i]
		case 8:
			es = append(es, in.entry(names, base))
		case 9:
			run.Status = in.status()
		case 10:
			run.State = in.snapshot()
		case 11:
			in.header(run, names, base)
		}
		*entries = es
	}
	if in.pick(2) == 0 {
		run.LeaseOwner, run.LeaseExpiry = "", time.Time{}
	}
	return n > 0
}

// noRetry makes a failed compensation fail at once.
var noRetry = retry.Policy{MaxAttempts: 1}

// fuzzOrder is the state of the fuzzed sagas. A step whose name is Fail
// fails; a retriable one never does (it would be retried for ever).
type fuzzOrder struct {
	Fail   string
	Done   []string
	Undone []string
	Got    string
}

var errFuzz = errors.New("step failed as the state says")

func fuzzStep(name string) func(context.Context, *fuzzOrder) error {
	return func(ctx context.Context, o *fuzzOrder) error {
		if name == "w" || name == "c" {
			v, err := durable.Await[string](ctx, "ev", time.Minute)
			if err != nil {
				return err
			}
			o.Got = v
		}
		if o.Fail == name && name != "r" {
			return errFuzz
		}
		o.Done = append(o.Done, name)
		return nil
	}
}

// undoneMu guards fuzzOrder.Undone: a graph run compensates independent
// steps at once, on the run's state.
var undoneMu sync.Mutex

func fuzzUndo(name string) func(context.Context, *fuzzOrder) error {
	return func(_ context.Context, o *fuzzOrder) error {
		if o.Fail == "undo "+name {
			return errFuzz
		}
		undoneMu.Lock()
		o.Undone = append(o.Undone, name)
		undoneMu.Unlock()
		return nil
	}
}

// fuzzSequential: a, w (waits for "ev"), b, the pivot p, then r, retriable.
func fuzzSequential(opts ...saga.StepOption) *saga.Saga[fuzzOrder] {
	return saga.New[fuzzOrder]().Name("fz").
		Step("a", fuzzStep("a"), fuzzUndo("a")).
		Step("w", fuzzStep("w"), fuzzUndo("w")).
		Step("b", fuzzStep("b"), fuzzUndo("b"), opts...).
		Step("p", fuzzStep("p"), fuzzUndo("p"), saga.Pivot()).
		Step("r", fuzzStep("r"), nil, saga.Retriable()).
		WithCompensationRetry(noRetry).
		Build()
}

// fuzzGraph: a, then b and c (waits for "ev") at once, then d.
func fuzzGraph(opts ...saga.StepOption) *saga.Saga[fuzzOrder] {
	return saga.New[fuzzOrder]().Name("fg").
		Step("a", fuzzStep("a"), fuzzUndo("a")).
		Step("b", fuzzStep("b"), fuzzUndo("b"), append(opts, saga.After("a"))...).
		Step("c", fuzzStep("c"), fuzzUndo("c"), saga.After("a")).
		Step("d", fuzzStep("d"), nil, saga.After("b", "c")).
		WithCompensationRetry(noRetry).
		Build()
}

func stepNames(sg *saga.Saga[fuzzOrder]) []string {
	var names []string
	for i := range sg.Plan().Len() {
		names = append(names, sg.Plan().Decl(i).Name)
	}
	return names
}

// fuzzInput hands out fuzz bytes; past the end it gives zeros.
type fuzzInput struct{ b []byte }

func (in *fuzzInput) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *fuzzInput) pick(n int) int { return int(in.byte()) % n }

func (in *fuzzInput) str(max int) string {
	n := min(in.pick(max+1), len(in.b))
	s := string(in.b[:n])
	in.b = in.b[n:]
	return s
}

// num is an execution number or count: small, negative or extreme.
func (in *fuzzInput) num() int {
	switch b := in.byte(); b {
	case 0x7f:
		return math.MaxInt
	case 0x80:
		return math.MinInt
	default:
		return int(int8(b)) % 5
	}
}

func (in *fuzzInput) at(base time.Time) time.Time {
	switch b := in.byte(); b {
	case 0:
		return time.Time{}
	case 0xff:
		return time.Unix(0, math.MaxInt64)
	default:
		return base.Add(time.Duration(int8(b)) * time.Second)
	}
}

var (
	fuzzStatuses = []journal.Status{journal.Pending, journal.Running, journal.Compensating, journal.Paused,
		journal.Succeeded, journal.Compensated, journal.CompensationFailed, journal.Failed, journal.Resolved,
		journal.Abandoned, journal.Blocked, journal.Waiting, "", "bogus"}
	fuzzKinds = []journal.Kind{journal.RunStarted, journal.StepStarted, journal.StepSucceeded, journal.StepFailed,
		journal.StepCancelled, journal.StepWaiting, journal.WaitEnded, journal.CompStarted, journal.CompSucceeded,
		journal.CompFailed, journal.RunPaused, journal.RunBlocked, journal.RunEnded, journal.RequestMade,
		journal.RequestCarriedOut, "", "bogus"}
	fuzzVerbs = []journal.Verb{journal.Resume, journal.RetryStep, journal.Compensate, journal.Resolve,
		journal.Abandon, "", "bogus"}
)

func (in *fuzzInput) status() journal.Status { return fuzzStatuses[in.pick(len(fuzzStatuses))] }
func (in *fuzzInput) kind() journal.Kind     { return fuzzKinds[in.pick(len(fuzzKinds))] }
func (in *fuzzInput) verb() journal.Verb     { return fuzzVerbs[in.pick(len(fuzzVerbs))] }

func (in *fuzzInput) step(names []string) string {
	k := in.pick(len(names) + 3)
	switch {
	case k < len(names):
		return names[k]
	case k == len(names):
		return ""
	case k == len(names)+1:
		return "ghost"
	}
	return in.str(4)
}

// snapshot is a state snapshot: none, good ones, and bad ones.
func (in *fuzzInput) snapshot() []byte {
	switch in.pick(8) {
	case 0, 1:
		return nil
	case 2:
		return []byte(`{}`)
	case 3:
		return []byte(`{"Done":["a"]}`)
	case 4:
		return []byte(`{"Fail":"` + []string{"a", "b", "c", "w", "p", "undo a", "undo b"}[in.pick(7)] + `"}`)
	case 5:
		return []byte{}
	case 6:
		return []byte(`{"Fail":7}`)
	}
	return []byte(in.str(16))
}

// payload is an event's payload: a string Await decodes, or not.
func (in *fuzzInput) payload() []byte {
	switch in.pick(4) {
	case 0:
		return []byte(`"paid"`)
	case 1:
		return nil
	case 2:
		return []byte(`{"not":"a string"}`)
	}
	return []byte(in.str(8))
}

// fuzzJournalSeeds are inputs that reach the interesting paths: real
// journals of both sagas crashed after each journal write, with each
// step failing, and a made-up one.
func fuzzJournalSeeds() [][]byte {
	seeds := [][]byte{{}}
	for sg := range byte(2) {
		for crash := range byte(9) {
			for _, fail := range []byte{0, 3, 6} {
				// options, saga, real run: crash point, failing step,
				// no corruption; recovery, a signal, resume.
				seeds = append(seeds, []byte{1, 1, 1, 0, sg, 1, crash, fail, 0, 0, 0, 2, 0, 0, 2, 1})
			}
		}
	}
	return seeds
}

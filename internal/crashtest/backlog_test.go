//go:build unix

package crashtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
)

// A crash with a backlog of runs no worker can drive: before the child
// runs its orders, the journal holds runs older than them, more than a
// Recover batch, that recovery cannot carry on — their saga is not
// registered, they were made by an older definition, or their snapshot
// does not decode — left by some earlier worker that died. Recovery must
// set each aside once (status journal.Blocked, the reason in its error, a
// journal.RunBlocked entry that keeps the status it had), never claim it
// again, and recover every one of the child's runs as if the backlog
// were not there. Two of the backlog runs have an operator's request
// pending: an Abandon, carried out without the definition, and a Resume,
// refused since no worker here can carry it out.

// backlogRun is a run of the backlog and what recovery must make of it.
type backlogRun struct {
	run    journal.Run
	req    journal.Request // pending, if any
	want   journal.Status  // after recovery
	reason string          // in the run's error once set aside
}

// backlogBatch is the Recover batch; the backlog is larger.
const backlogBatch = 4

// backlog returns the undrivable runs, oldest first.
func backlog(t *testing.T) []backlogRun {
	t.Helper()
	current := newSaga(nil, nil, nil).Plan().Fingerprint()
	// An older definition: the same saga before notify_customer.
	b := saga.New[order]().Name("crash_order")
	for _, s := range steps[:len(steps)-1] {
		b.Step(s.name, func(context.Context, *order) error { return nil }, func(context.Context, *order) error { return nil })
	}
	older := b.Build().Plan().Fingerprint()
	if older == current {
		t.Fatal("the older definition has the current fingerprint")
	}
	var out []backlogRun
	for k := range 9 {
		r := backlogRun{
			run: journal.Run{ID: fmt.Sprintf("backlog-%d", k), Saga: "crash_order", Fingerprint: current,
				Status: journal.Running, State: []byte(`{}`), LeaseOwner: "dead-worker", LeaseExpiry: time.Now().Add(time.Minute)},
			want: journal.Blocked,
		}
		if k%2 == 1 {
			r.run.Status = journal.Compensating
		}
		switch k % 3 {
		case 0:
			r.run.Saga, r.reason = "crash_refund", durable.ErrUnknownSaga.Error()
		case 1:
			r.run.Fingerprint, r.reason = older, durable.ErrDefinitionChanged.Error()
		case 2:
			r.run.State, r.reason = []byte("not json"), "cannot be decoded"
		}
		out = append(out, r)
	}
	out = append(out,
		backlogRun{run: journal.Run{ID: "backlog-resume", Saga: "crash_refund", Fingerprint: current, Status: journal.Paused, State: []byte(`{}`)},
			req: journal.Request{Verb: journal.Resume, Note: "try again"}, want: journal.Blocked, reason: durable.ErrUnknownSaga.Error()},
		backlogRun{run: journal.Run{ID: "backlog-abandon", Saga: "crash_order", Fingerprint: older, Status: journal.Paused, State: []byte(`{}`)},
			req: journal.Request{Verb: journal.Abandon, Note: "made by the old release"}, want: journal.Abandoned},
	)
	return out
}

// writeBacklog journals the backlog in the file of plan p, as the dead
// worker left it: each run started, its first step started.
func writeBacklog(ctx context.Context, t *testing.T, p plan, runs []backlogRun) {
	t.Helper()
	store, err := sqlite.Open(ctx, p.journal())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, r := range runs {
		err := store.Create(ctx, r.run,
			journal.Entry{Kind: journal.RunStarted, State: r.run.State, At: time.Now()},
			journal.Entry{Kind: journal.StepStarted, Step: steps[0].name, Attempt: 1, At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if r.req.Verb != "" {
			if err := store.Request(ctx, r.run.ID, r.req); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Millisecond) // created one after the other
	}
}

func TestCrashWithUndrivableBacklog(t *testing.T) {
	for _, sc := range []struct {
		name   string
		policy durable.CrashPolicy
		kill   point
	}{
		{"in_step", durable.ResumeAfterCrash, point{Where: inStep, Run: "run-3", Step: "book_courier"}},
		{"compensation_end", durable.CompensateAfterCrash, point{Where: beforeWrite, Run: "run-4", N: 8}},
		{"random", durable.ResumeAfterCrash, point{Where: atRandom, Seed: 5}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			crashWithBacklog(t, sc.policy, sc.kill)
		})
	}
}

func crashWithBacklog(t *testing.T, policy durable.CrashPolicy, kill point) {
	is := is.New(t)
	ctx := t.Context()
	p := plan{Dir: t.TempDir(), Policy: policy, Kill: kill}
	bad := backlog(t)
	writeBacklog(ctx, t, p, bad)
	runChild(t, p)

	later := func() time.Time { return time.Now().Add(time.Hour) }
	store, err := sqlite.Open(ctx, p.journal(), sqlite.WithClock(later))
	is.NoErr(err)
	t.Cleanup(func() { store.Close() })
	l, err := openLedger(p.ledger())
	is.NoErr(err)
	t.Cleanup(func() { l.Close() })
	pre := views(ctx, t, store)
	engine := durable.NewEngine(store, durable.WithOwner("crash-recovery"))
	_, err = durable.Register(engine, newSaga(l, nil, nil), durable.OnCrash(policy))
	is.NoErr(err)

	passes := 0
	for range 2 * (len(bad) + len(orders)) {
		n, err := engine.Recover(ctx, backlogBatch)
		checkSetAside(t, err)
		if n == 0 {
			break
		}
		passes++
	}
	post := views(ctx, t, store)
	for _, o := range orders {
		checkRun(t, o.id, policy, pre[o.id], post[o.id], l)
	}
	for _, r := range bad {
		v, err := durable.Inspect(ctx, store, r.run.ID)
		is.NoErr(err)
		checkBacklogRun(t, r, v)
	}
	// Set aside, the backlog is never claimed again, by this worker or
	// another.
	other := durable.NewEngine(store, durable.WithOwner("another-worker"))
	_, err = durable.Register(other, newSaga(l, nil, nil), durable.OnCrash(policy))
	is.NoErr(err)
	for _, e := range []*durable.Engine{engine, other} {
		n, err := e.Recover(ctx, backlogBatch)
		is.NoErr(err)
		is.Equal(n, 0) // nothing left to claim
	}
	t.Logf("recovered in %d passes of %d runs; the backlog had %d runs", passes, backlogBatch, len(bad))
}

// checkSetAside checks that Recover failed only because of runs it set
// aside.
func checkSetAside(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, err := range errs {
		if !errors.Is(err, durable.ErrUnknownSaga) && !errors.Is(err, durable.ErrDefinitionChanged) &&
			!strings.Contains(err.Error(), "cannot be decoded") {
			t.Errorf("recover: %v", err)
		}
	}
}

// checkBacklogRun checks a backlog run after recovery.
func checkBacklogRun(t *testing.T, r backlogRun, v *durable.View) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: %s\n%s", r.run.ID, fmt.Sprintf(format, args...), dump(v))
	}
	if v.Run.Status != r.want {
		fail("status %s, want %s", v.Run.Status, r.want)
		return
	}
	if v.Run.LeaseOwner != "" || v.Run.Request.Verb != "" {
		fail("lease %q, request %q left", v.Run.LeaseOwner, v.Run.Request.Verb)
	}
	var blocked, done, refused int
	for _, e := range v.Entries {
		switch {
		case e.Kind == journal.RunBlocked:
			blocked++
			if e.Status != r.run.Status || e.Error != v.Run.Error {
				fail("run_blocked entry keeps status %s and error %q, want %s and the run's error", e.Status, e.Error, r.run.Status)
			}
		case e.Kind == journal.RequestCarriedOut && strings.HasPrefix(e.Note, "refused: "):
			refused++
		case e.Kind == journal.RequestCarriedOut:
			done++
		case e.Kind != journal.RunStarted && e.Kind != journal.StepStarted && e.Kind != journal.RequestMade && e.Kind != journal.RunEnded:
			fail("recovery journaled %s", e.Kind)
		}
	}
	switch r.want {
	case journal.Blocked:
		if blocked != 1 {
			fail("set aside %d times, want once", blocked)
		}
		if !strings.Contains(v.Run.Error, r.reason) {
			fail("error %q does not say %q", v.Run.Error, r.reason)
		}
		if r.req.Verb != "" && (refused != 1 || done != 0) {
			fail("its %s request was refused %d times and carried out %d, want refused once", r.req.Verb, refused, done)
		}
	case journal.Abandoned:
		if blocked != 0 || done != 1 || refused != 0 || v.Run.Note != r.req.Note {
			fail("want abandoned as asked, with the note")
		}
	}
}

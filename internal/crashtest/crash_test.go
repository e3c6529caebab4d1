//go:build unix

package crashtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
)

// The writes of the runs the scenarios aim at. run-3 succeeds:
//
//	1 create: run started, reserve_stock started
//	2 reserve_stock succeeded, charge_card started
//	3 charge_card succeeded, book_courier started
//	4 book_courier succeeded, send_invoice started
//	5 send_invoice succeeded, notify_customer started
//	6 notify_customer succeeded, run ended
//
// run-4 fails at notify_customer and compensates:
//
//	5 send_invoice succeeded, notify_customer started
//	6 notify_customer failed, send_invoice's compensation started
//	7 send_invoice compensated, book_courier's compensation started
//	8 book_courier compensated, charge_card's compensation started
//	9 charge_card compensated, reserve_stock's compensation started
//	10 reserve_stock compensated, run ended

// scenario is a crash at a chosen point, where it leaves the run it hits,
// and what that run must end as. Every other run is checked against its
// journal at the crash (see expect).
type scenario struct {
	name string
	kill point
	// atCrash is kill.Run's status in the journal at the crash ("": not
	// journaled), and open the step it shows started and not ended.
	atCrash journal.Status
	open    string
	// want is kill.Run's final status under each policy.
	want [2]journal.Status // by durable.CrashPolicy
	// again names a step recovery must call a second time, with the
	// key of its first call, under ResumeAfterCrash.
	again string
}

const (
	running      = journal.Running
	compensating = journal.Compensating
	succeeded    = journal.Succeeded
	compensated  = journal.Compensated
)

// each runs every scenario under both crash policies, on every fleet
// store (a subtest per kind: see fleetKinds).
func each(t *testing.T, scenarios []scenario) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, sc := range scenarios {
			for _, policy := range []durable.CrashPolicy{durable.ResumeAfterCrash, durable.CompensateAfterCrash} {
				t.Run(fmt.Sprintf("%s/%s", sc.name, policyName(policy)), func(t *testing.T) {
					t.Parallel()
					is := is.New(t)
					o := crash(t, kind, policy, sc.kill)
					pre, post := o.pre[sc.kill.Run], o.post[sc.kill.Run]
					if sc.atCrash == "" {
						is.True(pre == nil && post == nil) // the run never reached the journal
						return
					}
					is.True(pre != nil)                             // the run reached the journal
					is.Equal(pre.Run.Status, sc.atCrash)            // status at the crash
					is.Equal(progressOf(pre.Entries).open, sc.open) // step running at the crash
					is.Equal(post.Run.Status, sc.want[policy])
					if sc.again != "" && policy == durable.ResumeAfterCrash {
						e := o.ledger.of(sc.kill.Run, sc.again)
						is.Equal(len(e.calls), 2) // called again after the crash
						is.Equal(e.calls[0], e.calls[1])
						is.Equal(e.dos, 1) // the ledger took the effect once
					}
				})
			}
		}
	})
}

// forEachStore runs scenarios once per kind of fleet store, in a subtest
// named by the kind; the kinds' subtests run in parallel with each other,
// and scenarios starts its own parallel subtests, each of which makes its
// journal (newFleetStore).
func forEachStore(t *testing.T, scenarios func(t *testing.T, kind string)) {
	t.Helper()
	for _, kind := range fleetKinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			scenarios(t, kind)
		})
	}
}

func policyName(p durable.CrashPolicy) string {
	if p == durable.CompensateAfterCrash {
		return "compensate"
	}
	return "resume"
}

func TestCrashBeforeWrite(t *testing.T) {
	each(t, []scenario{
		{name: "create", kill: point{Where: beforeWrite, Run: "run-3", N: 1}},
		{name: "step_end", kill: point{Where: beforeWrite, Run: "run-3", N: 3}, atCrash: running, open: "charge_card",
			want: [2]journal.Status{succeeded, compensated}, again: "charge_card"},
		{name: "run_end", kill: point{Where: beforeWrite, Run: "run-3", N: 6}, atCrash: running, open: "notify_customer",
			want: [2]journal.Status{succeeded, compensated}, again: "notify_customer"},
		{name: "step_failed", kill: point{Where: beforeWrite, Run: "run-4", N: 6}, atCrash: running, open: "notify_customer",
			want: [2]journal.Status{compensated, compensated}},
		{name: "compensation_end", kill: point{Where: beforeWrite, Run: "run-4", N: 8}, atCrash: compensating,
			want: [2]journal.Status{compensated, compensated}},
	})
}

func TestCrashAfterWrite(t *testing.T) {
	each(t, []scenario{
		// book_courier is journaled as started and has not run: its outcome
		// is unknown, and it is not idempotent, so it is compensated (with
		// nothing to undo) under either policy.
		{name: "lost_step", kill: point{Where: afterWrite, Run: "run-3", N: 3}, atCrash: running, open: "book_courier",
			want: [2]journal.Status{compensated, compensated}},
		{name: "step_start", kill: point{Where: afterWrite, Run: "run-3", N: 4}, atCrash: running, open: "send_invoice",
			want: [2]journal.Status{succeeded, compensated}},
		{name: "run_end", kill: point{Where: afterWrite, Run: "run-3", N: 6}, atCrash: succeeded,
			want: [2]journal.Status{succeeded, succeeded}},
		{name: "compensation_start", kill: point{Where: afterWrite, Run: "run-4", N: 7}, atCrash: compensating,
			want: [2]journal.Status{compensated, compensated}},
	})
}

func TestCrashInStep(t *testing.T) {
	each(t, []scenario{
		{name: "idempotent", kill: point{Where: inStep, Run: "run-3", Step: "charge_card"}, atCrash: running, open: "charge_card",
			want: [2]journal.Status{succeeded, compensated}, again: "charge_card"},
		// book_courier took effect but its outcome is lost: it must be
		// compensated, never run again.
		{name: "not_idempotent", kill: point{Where: inStep, Run: "run-3", Step: "book_courier"}, atCrash: running, open: "book_courier",
			want: [2]journal.Status{compensated, compensated}},
		{name: "last", kill: point{Where: inStep, Run: "run-3", Step: "notify_customer"}, atCrash: running, open: "notify_customer",
			want: [2]journal.Status{succeeded, compensated}, again: "notify_customer"},
	})
}

func TestCrashInCompensation(t *testing.T) {
	each(t, []scenario{
		{name: "middle", kill: point{Where: inCompensation, Run: "run-4", Step: "book_courier"}, atCrash: compensating,
			want: [2]journal.Status{compensated, compensated}},
		{name: "last", kill: point{Where: inCompensation, Run: "run-4", Step: "reserve_stock"}, atCrash: compensating,
			want: [2]journal.Status{compensated, compensated}},
	})
}

// TestCrashAtRandom kills the child at a point chosen by a seed among all
// the points it passes, whichever run they belong to.
func TestCrashAtRandom(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for seed := range uint64(8) {
			for _, policy := range []durable.CrashPolicy{durable.ResumeAfterCrash, durable.CompensateAfterCrash} {
				t.Run(fmt.Sprintf("seed_%d/%s", seed, policyName(policy)), func(t *testing.T) {
					t.Parallel()
					crash(t, kind, policy, point{Where: atRandom, Seed: seed})
				})
			}
		}
	})
}

// outcome is what a crash test leaves: every run's journal at the crash
// and after recovery, and the ledger.
type outcome struct {
	pre, post map[string]*durable.View
	ledger    *ledger
}

// crash runs a child that dies at kill, on a new journal of kind,
// recovers its runs in a new engine, and checks every run (see checkRun).
func crash(t *testing.T, kind string, policy durable.CrashPolicy, kill point) *outcome {
	t.Helper()
	is := is.New(t)
	dir := t.TempDir()
	p := plan{Dir: dir, Store: newFleetStore(t, kind, dir), Policy: policy, Kill: kill}
	runChild(t, p)

	// An hour from now, the dead child's leases have expired.
	ctx := t.Context()
	store, err := openFleetStoreWithClock(ctx, p.Store, anHourAhead)
	is.NoErr(err)
	t.Cleanup(func() { store.Close() })
	l, err := openLedger(p.ledger())
	is.NoErr(err)
	t.Cleanup(func() { l.Close() })

	pre := views(ctx, t, store)
	engine := durable.NewEngine(store, durable.WithOwner("crash-recovery"))
	_, err = durable.Register(engine, newSaga(l, nil, nil), durable.OnCrash(policy))
	is.NoErr(err)
	for range len(orders) + 1 {
		n, err := engine.Recover(ctx, len(orders))
		is.NoErr(err)
		if n == 0 {
			break
		}
	}
	post := views(ctx, t, store)
	for _, o := range orders {
		checkRun(t, o.id, policy, pre[o.id], post[o.id], l)
	}
	return &outcome{pre: pre, post: post, ledger: l}
}

// anHourAhead is the clock of a parent that recovers a dead child's runs:
// an hour ahead, the child's leases have expired, without sleeping.
func anHourAhead() time.Time { return time.Now().Add(time.Hour) }

// runChild runs the test binary as the child of plan p and checks that it
// died of SIGKILL.
func runChild(t *testing.T, p plan) {
	t.Helper()
	ws, out, err := execChild(t, p)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child did not die of SIGKILL (%v; exit code %d means it reached no crash point); its output:\n%s",
			err, noCrash, out)
	}
}

// runChildToEnd runs the test binary as the child of plan p and checks
// that it did all it had to and exited with code noCrash.
func runChildToEnd(t *testing.T, p plan) {
	t.Helper()
	ws, out, err := execChild(t, p)
	if !ws.Exited() || ws.ExitStatus() != noCrash {
		t.Fatalf("the child did not exit with code %d (%v); its output:\n%s", noCrash, err, out)
	}
}

// execChild runs the test binary as the child of plan p and returns how
// it ended and what it printed, once nothing more of it can land in the
// journal (settleChild).
func execChild(t *testing.T, p plan) (syscall.WaitStatus, string, error) {
	t.Helper()
	p.Store = childStore(p.Store)
	env, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(env))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("the child did not start: %v", err)
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		t.Fatalf("the child's wait status is a %T", cmd.ProcessState.Sys())
	}
	settleChild(t, p.Store)
	return ws, out.String(), err
}

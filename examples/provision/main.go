// Command provision ports the story of async-transaction-manager: provision
// a user and a virtual machine for them, then give the VM an IP address.
// The IP assignment fails, so the VM and the user are rolled back.
//
// It shows the seed's features in sagakit terms:
//
//   - lifecycle hooks (the seed's TransactionHook) as a [saga.Hooks] struct;
//   - retries with exponential backoff on execute (assign_ip) and on
//     rollback (delete_vm), with [saga.Retry] and [saga.CompensationRetry];
//   - a per-step timeout ([saga.Timeout]) that cuts a hanging attempt short;
//   - logging through log/slog (the seed's standard logging module);
//   - the transaction summary, [saga.Report.String].
//
// Steps pass data through the state: create_user stores the user ID that
// create_vm needs, create_vm the VM ID that assign_ip and delete_vm need.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

// Provision is the saga state: the request, and what each step created.
type Provision struct {
	Username, Email, VMName string

	UserID string // set by create_user
	VMID   string // set by create_vm
	IP     string // set by assign_ip
}

// ErrPoolExhausted is the IP assignment's failure.
var ErrPoolExhausted = errors.New("ip pool exhausted")

// services simulates the user, VM and network services. It prints what
// they do and counts calls so that it can fail on cue.
type services struct {
	w             io.Writer
	assignCalls   int
	deleteVMCalls int
}

func (s *services) createUser(_ context.Context, p *Provision) error {
	fmt.Fprintf(s.w, "Creating user: %s (%s)\n", p.Username, p.Email)
	p.UserID = "user_abc"
	return nil
}

func (s *services) deleteUser(_ context.Context, p *Provision) error {
	fmt.Fprintf(s.w, "Deleting user: %s\n", p.UserID)
	return nil
}

func (s *services) createVM(_ context.Context, p *Provision) error {
	fmt.Fprintf(s.w, "Creating VM: %s for user %s\n", p.VMName, p.UserID)
	p.VMID = "vm_xyz"
	return nil
}

// deleteVM fails once, as a busy hypervisor would, so that the rollback
// is retried.
func (s *services) deleteVM(_ context.Context, p *Provision) error {
	s.deleteVMCalls++
	fmt.Fprintf(s.w, "Deleting VM: %s (call %d)\n", p.VMID, s.deleteVMCalls)
	if s.deleteVMCalls == 1 {
		return errors.New("hypervisor busy")
	}
	return nil
}

// assignIP hangs on its first call until the step's timeout ends it, then
// finds the address pool empty.
func (s *services) assignIP(ctx context.Context, p *Provision) error {
	s.assignCalls++
	fmt.Fprintf(s.w, "Assigning IP to VM %s (call %d)\n", p.VMID, s.assignCalls)
	if s.assignCalls == 1 {
		<-ctx.Done() // the IPAM service does not answer
		return ctx.Err()
	}
	return ErrPoolExhausted
}

func (s *services) releaseIP(_ context.Context, p *Provision) error {
	fmt.Fprintf(s.w, "Releasing IP %s\n", p.IP)
	return nil
}

// hooks prints every lifecycle event, like the seed's MyCustomHook.
func hooks(w io.Writer) *saga.Hooks {
	return &saga.Hooks{
		OnStart: func(_ context.Context, run saga.RunInfo) {
			fmt.Fprintf(w, "HOOK: transaction %q (%s) starting\n", run.Saga, run.RunID)
		},
		OnStepStart: func(_ context.Context, s saga.StepInfo) {
			fmt.Fprintf(w, "HOOK: step %q executing, attempt %d\n", s.Step, s.Attempt)
		},
		OnStepSuccess: func(_ context.Context, s saga.StepInfo, _ time.Duration) {
			fmt.Fprintf(w, "HOOK: step %q succeeded\n", s.Step)
		},
		OnStepRetry: func(_ context.Context, s saga.StepInfo, err error, delay time.Duration) {
			fmt.Fprintf(w, "HOOK: step %q attempt %d failed (%v), retrying in %v\n", s.Step, s.Attempt, err, delay)
		},
		OnStepFailure: func(_ context.Context, s saga.StepInfo, err error) {
			fmt.Fprintf(w, "HOOK: step %q failed after %d attempt(s): %v\n", s.Step, s.Attempt, err)
		},
		OnCompensationStart: func(_ context.Context, run saga.RunInfo, _ error) {
			fmt.Fprintf(w, "HOOK: rollback initiated for transaction %s\n", run.RunID)
		},
		OnCompensationRetry: func(_ context.Context, s saga.StepInfo, err error, delay time.Duration) {
			fmt.Fprintf(w, "HOOK: rollback of %q attempt %d failed (%v), retrying in %v\n", s.Step, s.Attempt, err, delay)
		},
		OnStepCompensated: func(_ context.Context, s saga.StepInfo) {
			fmt.Fprintf(w, "HOOK: step %q rolled back\n", s.Step)
		},
		OnCompensationFailure: func(_ context.Context, s saga.StepInfo, err error) {
			fmt.Fprintf(w, "HOOK: rollback of %q failed: %v\n", s.Step, err)
		},
		OnComplete: func(_ context.Context, rep *saga.Report) {
			fmt.Fprintf(w, "HOOK: transaction %s ended: %s\n", rep.RunID, rep.Status)
		},
	}
}

// logger logs to w as text, without the attributes that change from run to
// run (the time, and how long things took), so the output is stable.
func logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelInfo, // slog.LevelDebug adds step starts and successes
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == "took") {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// fast is a backoff schedule short enough for a demo: 10ms, then 20ms.
var fast = retry.Policy{MaxAttempts: 3, InitialInterval: 10 * time.Millisecond, Multiplier: 2}

func run(w io.Writer) error {
	svc := &services{w: w}
	sg := saga.New[Provision]().
		Name("provision_user_and_vm").
		Step("create_user", svc.createUser, svc.deleteUser).
		Step("create_vm", svc.createVM, svc.deleteVM, saga.CompensationRetry(fast)).
		Step("assign_ip", svc.assignIP, svc.releaseIP,
			saga.Timeout(50*time.Millisecond), // bounds each attempt
			saga.Retry(fast)).
		WithHooks(hooks(w)).
		WithLogger(logger(w)).
		Build()

	// The seed's transaction_id; without WithRunID the saga makes one up.
	ctx := saga.WithRunID(context.Background(), "create_user_and_vm_transaction")
	p := Provision{Username: "jane.doe", Email: "jane@example.com", VMName: "jane-vm"}
	rep, err := sg.Run(ctx, &p)

	fmt.Fprintln(w)
	switch {
	case errors.Is(err, ErrPoolExhausted):
		var se *saga.Error
		errors.As(err, &se)
		fmt.Fprintf(w, "Transaction failed at step %q: %v; everything was rolled back: %t\n",
			se.Step, ErrPoolExhausted, rep.Status == saga.StatusCompensated)
	case err != nil:
		return err
	default:
		fmt.Fprintln(w, "Transaction completed successfully!")
	}
	fmt.Fprintf(w, "\nTransaction Summary:\n%s", rep)
	return nil
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "provision:", err)
		os.Exit(1)
	}
}

//go:build unix

// Command crash shows a saga run surviving the death of its process.
//
// A worker process (this program, run again with the SAGAKIT_CRASH_WORKER
// environment variable) provisions a VM in four steps, journaled to a
// SQLite file, and is killed with SIGKILL in the middle of the third,
// install_os, after the cloud did the work but before the step returned.
// Then, as a second process would, the program opens the same file with
// an engine of its own, waits for the dead worker's lease to expire, and
// recovers the run with [durable.Engine.Recover]: the steps the journal
// holds as done are not run again; install_os, whose outcome was lost,
// runs again with the same idempotency key ([durable.IdempotencyKey]), so
// the cloud returns the first result without doing the work twice; and
// the run goes on to its end.
//
// A step that is not [saga.Idempotent] would instead be compensated, with
// the steps before it, since it may have taken effect; and under
// [durable.CompensateAfterCrash] every interrupted run is compensated.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
)

const (
	workerEnv = "SAGAKIT_CRASH_WORKER" // the worker's directory; set for the worker only
	runID     = "provision-1"
	leaseTTL  = time.Second // short, so that the story does not wait long
)

// site is what a process opens in the shared directory: the journal, an
// engine on it, and the provisioning saga registered there.
type site struct {
	store  *sqlite.Store
	engine *durable.Engine
	def    *durable.Definition[VM]
}

// open opens the journal and the cloud in dir, and an engine that runs the
// provisioning saga under the name who, printing to w. crash is called in
// the middle of install_os, if not nil.
func open(ctx context.Context, w io.Writer, dir, who string, crash func()) (*site, error) {
	c, err := openCloud(filepath.Join(dir, "cloud"))
	if err != nil {
		return nil, err
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "journal.db"))
	if err != nil {
		return nil, err
	}
	engine := durable.NewEngine(store, durable.WithOwner(who), durable.WithLeaseTTL(leaseTTL))
	p := &provisioner{w: w, who: who, cloud: c, crash: crash}
	def, err := durable.Register(engine, p.saga())
	if err != nil {
		store.Close()
		return nil, err
	}
	return &site{store: store, engine: engine, def: def}, nil
}

// worker runs the saga in dir, and dies in the middle of install_os.
func worker(ctx context.Context, w io.Writer, dir string) error {
	die := func() {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute) // the signal is on its way
	}
	s, err := open(ctx, w, dir, "worker", die)
	if err != nil {
		return err
	}
	defer s.store.Close()
	_, err = s.def.Run(saga.WithRunID(ctx, runID), &VM{})
	return fmt.Errorf("the worker was meant to die, but its run ended (%v)", err)
}

// story runs a worker that dies in dir, then recovers its run.
func story(ctx context.Context, w io.Writer, dir string) error {
	fmt.Fprintf(w, "# A worker process provisions a VM (run %s) and is killed in the middle of step 3.\n", runID)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), workerEnv+"="+dir)
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Run()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		return fmt.Errorf("the worker did not die of SIGKILL: %v", err)
	}
	fmt.Fprintf(w, "The worker died: %v.\n", err)

	fmt.Fprintf(w, "\n# A second process, the rescuer, opens the journal. It holds of %s:\n", runID)
	s, err := open(ctx, w, dir, "rescuer", nil)
	if err != nil {
		return err
	}
	defer s.store.Close()
	v, err := durable.Inspect(ctx, s.store, runID)
	if err != nil {
		return err
	}
	fmt.Fprint(w, v.Report)
	fmt.Fprintf(w, "\nstate:    %s\n", v.State)
	fmt.Fprintf(w, "lease:    held by %s, which no longer renews it: it runs out within %v\n\n", v.Run.LeaseOwner, leaseTTL)
	explain(w, v)

	fmt.Fprintln(w, "\n# When the lease has expired, the rescuer recovers the run.")
	n, err := recoverAfter(ctx, s.engine, v.Run.LeaseExpiry)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Recovered %d run.\n", n)

	fmt.Fprintln(w, "\n# The final report, from the journal:")
	if v, err = durable.Inspect(ctx, s.store, runID); err != nil {
		return err
	}
	fmt.Fprint(w, v.Report)
	fmt.Fprintf(w, "\nstate:    %s\n", v.State)
	return nil
}

// explain tells what recovery will do with each step the journal names.
func explain(w io.Writer, v *durable.View) {
	attempt := map[string]int{}
	for _, e := range v.Entries {
		attempt[e.Step] = e.Attempt
	}
	for _, s := range v.Report.Steps {
		switch s.Status {
		case saga.StepSucceeded:
			fmt.Fprintf(w, "%s succeeded: recovery takes its result from the journal and does not run it again.\n", s.Name)
		case saga.StepRunning:
			fmt.Fprintf(w, "%s was running: its outcome is lost. It is idempotent, so it runs again with the same key, %s/%s/%d.\n",
				s.Name, v.Run.ID, s.Name, attempt[s.Name])
		}
	}
}

// recoverAfter waits until expiry, when a dead worker's lease ends, and
// recovers the runs it left.
func recoverAfter(ctx context.Context, engine *durable.Engine, expiry time.Time) (int, error) {
	time.Sleep(time.Until(expiry))
	for range 100 {
		n, err := engine.Recover(ctx, 0)
		if n > 0 || err != nil {
			return n, err
		}
		time.Sleep(10 * time.Millisecond) // the clocks are a hair apart
	}
	return 0, errors.New("no run to recover")
}

func main() {
	ctx := context.Background()
	var err error
	if dir := os.Getenv(workerEnv); dir != "" {
		err = worker(ctx, os.Stdout, dir)
	} else {
		var dir string
		if dir, err = os.MkdirTemp("", "crash-"); err == nil {
			err = story(ctx, os.Stdout, dir)
			os.RemoveAll(dir)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash:", err)
		os.Exit(1)
	}
}

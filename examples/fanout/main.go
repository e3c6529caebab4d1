//go:build unix

// Command fanout shows a durable run of a graph saga, whose steps run at
// once, surviving the death of its process in the middle of its fan-out.
//
// The story is talepy's trip: the customer is debited, then the flight,
// the hotel and the car are booked at the same time, then the customer
// is sent the details of the booking. A worker process (this program, run
// again with the SAGAKIT_FANOUT_WORKER environment variable) runs it,
// journaled to a SQLite file. The flight is booked and journaled; the
// hotel has booked the room but its answer has not come back; the car
// rental has not answered yet: then the worker is killed with SIGKILL.
//
// Then, as a second process would, the program opens the same file with
// an engine of its own, waits for the dead worker's lease to expire, and
// recovers the run with [durable.Engine.Recover]. The journal holds the
// debit and the flight as done: they are not run again, and the newest
// snapshot holds their effects. The hotel and the car were both running:
// their outcomes are lost, and since both are [saga.Idempotent] both run
// again, at once, with the same idempotency keys ([durable.IdempotencyKey]):
// the hotel returns the room it booked the first time, the car rental
// books a car. Then the confirmation goes out, with all three bookings.
//
// A booking that is not idempotent would instead have the run
// compensated (every step that may have taken effect, the running ones
// included), and under [durable.CompensateAfterCrash] every interrupted
// run is compensated.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
)

const (
	workerEnv = "SAGAKIT_FANOUT_WORKER" // the worker's directory; set for the worker only
	runID     = "trip-1"
	leaseTTL  = time.Second // short, so that the story does not wait long
)

// steps are the trip's steps, in the order the story tells them.
var steps = []string{"debit", "flight", "hotel", "car", "confirm"}

// site is what a process opens in the shared directory: the journal, an
// engine on it, and the trip saga registered there.
type site struct {
	store  *sqlite.Store
	engine *durable.Engine
	def    *durable.Definition[Trip]
}

// open opens the journal and the services in dir, and an engine that
// runs the trip saga under the name who, printing to out. hang is called
// in the middle of the hotel's and the car's bookings, if not nil.
func open(ctx context.Context, out *say, dir, who string, hang func(context.Context, string)) (*site, error) {
	svc, err := openServices(filepath.Join(dir, "services"))
	if err != nil {
		return nil, err
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "journal.db"))
	if err != nil {
		return nil, err
	}
	engine := durable.NewEngine(store, durable.WithOwner(who), durable.WithLeaseTTL(leaseTTL))
	a := &agent{out: out, who: who, svc: svc, hang: hang}
	def, err := durable.Register(engine, a.saga())
	if err != nil {
		store.Close()
		return nil, err
	}
	return &site{store: store, engine: engine, def: def}, nil
}

// worker runs the trip in dir, and dies once the journal holds the flight
// as booked while the hotel's and the car's bookings are in flight.
func worker(ctx context.Context, w io.Writer, dir string) error {
	out := &say{w: w}
	var inFlight sync.WaitGroup
	inFlight.Add(2) // the hotel and the car
	hang := func(ctx context.Context, _ string) {
		inFlight.Done()
		<-ctx.Done() // the process dies first
	}
	s, err := open(ctx, out, dir, "worker", hang)
	if err != nil {
		return err
	}
	defer s.store.Close()
	go func() {
		inFlight.Wait()
		if err := flightJournaled(ctx, s); err != nil {
			out.f("worker: %v", err)
			os.Exit(1)
		}
		out.f("worker: killed (SIGKILL) with the flight journaled as booked, the hotel and the car in flight")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}()
	_, err = s.def.Run(saga.WithRunID(ctx, runID), &Trip{Customer: "alice"})
	return fmt.Errorf("the worker was meant to die, but its run ended (%v)", err)
}

// flightJournaled waits until the journal holds the flight as booked.
func flightJournaled(ctx context.Context, s *site) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		v, err := durable.Inspect(ctx, s.store, runID)
		if err != nil {
			return err
		}
		if step(v.Report, "flight").Status == saga.StepSucceeded {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("the flight's booking was not journaled")
}

// step returns the report of the step named name; a pending one if the
// journal does not name it.
func step(rep *saga.Report, name string) saga.StepReport {
	i := slices.IndexFunc(rep.Steps, func(s saga.StepReport) bool { return s.Name == name })
	if i < 0 {
		return saga.StepReport{Name: name, Status: saga.StepPending}
	}
	return rep.Steps[i]
}

// story runs a worker that dies in dir, then recovers its run.
func story(ctx context.Context, w io.Writer, dir string) error {
	fmt.Fprintf(w, "# A worker process books alice's trip (run %s): the flight, the hotel and the car at once.\n", runID)
	fmt.Fprintln(w, "# It is killed while the hotel and the car are being booked.")
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
	out := &say{w: w}
	s, err := open(ctx, out, dir, "rescuer", nil)
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

// explain tells what recovery will do with each step of the trip.
func explain(w io.Writer, v *durable.View) {
	attempt := map[string]int{}
	for _, e := range v.Entries {
		attempt[e.Step] = e.Attempt
	}
	for _, name := range steps {
		switch step(v.Report, name).Status {
		case saga.StepSucceeded:
			fmt.Fprintf(w, "%s succeeded: recovery takes its result from the journal's snapshot and does not run it again.\n", name)
		case saga.StepRunning:
			fmt.Fprintf(w, "%s was running: its outcome is lost. It is idempotent, so it runs again with the same key, %s/%s/%d.\n",
				name, v.Run.ID, name, attempt[name])
		case saga.StepPending:
			fmt.Fprintf(w, "%s has not started: it runs once the steps it runs after have succeeded.\n", name)
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
		if dir, err = os.MkdirTemp("", "fanout-"); err == nil {
			err = story(ctx, os.Stdout, dir)
			os.RemoveAll(dir)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

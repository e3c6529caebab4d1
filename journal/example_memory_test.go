package journal_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// A worker creates a run leased to itself, journals a step's end together
// with the next step's start, and an operator tool reads the journal.
func ExampleMemory() {
	ctx := context.Background()
	s := journal.NewMemory()
	defer s.Close()

	err := s.Create(ctx, journal.Run{
		ID:          "order-42",
		Saga:        "place-order",
		Status:      journal.Running,
		LeaseOwner:  "worker-1",
		LeaseExpiry: time.Now().Add(time.Minute),
	},
		journal.Entry{Kind: journal.RunStarted},
		journal.Entry{Kind: journal.StepStarted, Step: "reserve", Attempt: 1},
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	state := []byte(`{"reservation":"r-7"}`)
	err = s.Append(ctx, "order-42", "worker-1", journal.Update{State: state},
		journal.Entry{Kind: journal.StepSucceeded, Step: "reserve", Attempt: 1, State: state},
		journal.Entry{Kind: journal.StepStarted, Step: "charge", Attempt: 1},
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Another worker cannot write to the run while the lease holds.
	err = s.Append(ctx, "order-42", "worker-2", journal.Update{})
	fmt.Println(errors.Is(err, journal.ErrLeaseLost))

	run, entries, err := s.Load(ctx, "order-42")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(run.ID, run.Status, string(run.State))
	for _, e := range entries {
		fmt.Println(strings.TrimSpace(fmt.Sprint(e.Seq, " ", e.Kind, " ", e.Step)))
	}
	// Output:
	// true
	// order-42 running {"reservation":"r-7"}
	// 1 run_started
	// 2 step_started reserve
	// 3 step_succeeded reserve
	// 4 step_started charge
}

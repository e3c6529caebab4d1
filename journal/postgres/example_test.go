package postgres_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
)

// A replica starts a run, pending; a worker, woken by the store or by its
// poll, claims it on the database's clock and journals a step. (The
// example has no output to check: it needs a server, named by
// SAGAKIT_POSTGRES_DSN.)
func Example() {
	dsn := os.Getenv("SAGAKIT_POSTGRES_DSN") // e.g. postgres://app@db.internal:5432/app
	if dsn == "" {
		return
	}
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn, postgres.WithSchema("sagakit_example"))
	if err != nil {
		log.Fatal(err) // the DSN in the error has its password masked
	}
	defer s.Close()

	wake := s.Wakeups(ctx)
	id := fmt.Sprintf("order-%d", time.Now().UnixNano())
	err = s.Create(ctx, journal.Run{ID: id, Saga: "place-order", Status: journal.Pending},
		journal.Entry{Kind: journal.RunStarted})
	if err != nil {
		log.Fatal(err)
	}

	select {
	case <-wake: // a run needs a worker
	case <-time.After(time.Second): // or the poll's turn came
	}
	runs, err := s.Claim(ctx, "worker-1", 30*time.Second, 10)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range runs {
		err := s.Append(ctx, r.ID, "worker-1", journal.Update{Status: journal.Running},
			journal.Entry{Kind: journal.StepStarted, Step: "reserve", Attempt: 1})
		if err != nil {
			log.Fatal(err) // journal.ErrLeaseLost once the lease expired
		}
		fmt.Println("driving", r.ID, "until", r.LeaseExpiry.Format(time.RFC3339), "on the database's clock")
		if err := s.Release(ctx, r.ID, "worker-1"); err != nil {
			log.Fatal(err)
		}
	}
}

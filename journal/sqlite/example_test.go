package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// A worker journals a run in a file; after a restart, another worker
// claims it once the first one's lease has expired.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "journal")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "journal.db")

	s, err := sqlite.Open(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	err = s.Create(ctx, journal.Run{
		ID: "order-42", Saga: "place-order", Status: journal.Running,
		LeaseOwner: "worker-1", LeaseExpiry: time.Now().Add(-time.Second), // already expired
	}, journal.Entry{Kind: journal.RunStarted})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	runs, err := s.Claim(ctx, "worker-2", time.Minute, 10)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range runs {
		fmt.Println(r.ID, r.Status, r.LeaseOwner)
	}
	// Output:
	// order-42 running worker-2
}

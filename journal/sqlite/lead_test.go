package sqlite_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/internal/handofftest"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// A caller that writes alone commits its write on its own goroutine:
// every transaction of a lone writer is led by its caller.
func TestLoneWriterLeads(t *testing.T) {
	is := is.New(t)
	s := open(t, filepath.Join(t.TempDir(), "journal.db"))
	defer s.Close()
	ctx := t.Context()
	is.NoErr(s.Create(ctx, journal.Run{ID: "r", Status: journal.Running, LeaseOwner: "w", LeaseExpiry: time.Now().Add(time.Hour)}))
	c0, _ := s.Commits()
	l0 := s.Led()
	for i := range 20 {
		is.NoErr(s.Append(ctx, "r", "w", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: fmt.Sprint(i)}))
	}
	c1, _ := s.Commits()
	is.Equal(c1-c0, int64(20))  // one commit a write
	is.Equal(s.Led()-l0, c1-c0) // each run by its caller
}

// Many callers write at once, with batches of two, some giving up: every
// write is answered, and exactly those answered nil are stored.
func TestNoWriteLeftBehind(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "journal.db"), sqlite.WithBatchSize(2))
	defer s.Close()
	handofftest.NoWriteLeftBehind(t, s, 16, 150)
}

// A write queued as the writer's goroutine releases the token is run.
func TestWriteQueuedAsWriterFinishes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "journal.db"))
	defer s.Close()
	handofftest.WriteQueuedAsWriterFinishes(t, s)
}

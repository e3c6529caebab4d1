package postgres_test

import (
	"fmt"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/internal/handofftest"
	"github.com/sagakit/sagakit/journal/postgres"
)

// A caller that writes alone sends its write from its own goroutine:
// every batch of a lone writer is sent by its caller.
func TestLoneWriterLeads(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newStore(t)
	createRuns(t, s, 1, "w")
	b0, _, _ := s.Batches()
	l0 := s.Led()
	for i := range 20 {
		is.NoErr(s.Append(t.Context(), "run-0", "w", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: fmt.Sprint(i)}))
	}
	b1, _, _ := s.Batches()
	is.Equal(b1-b0, int64(20))  // one batch a write
	is.Equal(s.Led()-l0, b1-b0) // each sent by its caller
}

// Many callers write at once, with batches of two and two writers, some
// giving up: every write is answered, and exactly those answered nil are
// stored.
func TestNoWriteLeftBehind(t *testing.T) {
	t.Parallel()
	handofftest.NoWriteLeftBehind(t, newStore(t, postgres.WithBatchSize(2), postgres.WithWriters(2)), 16, 60)
}

// A write queued as a writer's goroutine releases the only slot is sent.
func TestWriteQueuedAsWriterFinishes(t *testing.T) {
	t.Parallel()
	handofftest.WriteQueuedAsWriterFinishes(t, newStore(t, postgres.WithWriters(1)))
}

package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// Group commit: when an op of a batch fails after writing part of its
// rows (an unexpected error, here a trigger that aborts the insert of its
// entries), the batch rolls back and every op is answered with its own
// outcome: the failing one fails and wrote nothing, the others commit.
func TestBatchRollbackAcks(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	s := open(t, path)
	defer s.Close()
	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	defer db.Close()
	_, err = db.Exec(`CREATE TRIGGER inject BEFORE INSERT ON entries WHEN NEW.run_id = '3'
		BEGIN SELECT RAISE(ABORT, 'injected fault'); END`)
	is.NoErr(err)
	const n = 8
	errs := queueAppends(t, s, n, func(int) string { return "w" })
	for i, err := range errs {
		r, es, lerr := s.Load(t.Context(), fmt.Sprint(i))
		is.NoErr(lerr)
		if i == 3 {
			is.True(err != nil && strings.Contains(err.Error(), "injected fault")) // its own error
			is.True(!errors.Is(err, journal.ErrLeaseLost))
			is.Equal(len(es), 0)      // nothing written
			is.Equal(len(r.State), 0) // not even the header
			continue
		}
		is.NoErr(err) // committed despite the batch's rollback
		is.Equal(len(es), 2)
		is.Equal(string(r.State), "x")
	}
}

// A caller whose context ends while its write is still queued gets the
// context's error, and the writer skips the write.
func TestCanceledBeforeTakenWritesNothing(t *testing.T) {
	is := is.New(t)
	s := open(t, filepath.Join(t.TempDir(), "journal.db"))
	defer s.Close()
	is.NoErr(s.Create(t.Context(), journal.Run{ID: "r", Status: journal.Running, LeaseOwner: "w", LeaseExpiry: time.Now().Add(time.Hour)}))
	resume := s.Stall()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- s.Append(ctx, "r", "w", journal.Update{State: []byte("x")}, journal.Entry{Kind: journal.StepStarted, Step: "a"})
	}()
	s.AwaitQueued(1)
	cancel()
	err := <-done // answered while the writer is still stalled
	resume()
	is.True(errors.Is(err, context.Canceled))
	is.NoErr(s.Release(t.Context(), "r", "nobody")) // a write after it: the writer has passed the skipped op
	r, es, err := s.Load(t.Context(), "r")
	is.NoErr(err)
	is.Equal(len(es), 0)
	is.Equal(len(r.State), 0)
}

// A caller whose context ends after the writer took its write waits for
// the outcome and reports it: the write committed, so Append returns nil.
func TestCanceledAfterTakenAcksCommit(t *testing.T) {
	is := is.New(t)
	s := open(t, filepath.Join(t.TempDir(), "journal.db"))
	defer s.Close()
	is.NoErr(s.Create(t.Context(), journal.Run{ID: "r", Status: journal.Running, LeaseOwner: "w", LeaseExpiry: time.Now().Add(time.Hour)}))
	resumeA := s.Stall()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- s.Append(ctx, "r", "w", journal.Update{State: []byte("x")}, journal.Entry{Kind: journal.StepStarted, Step: "a"})
	}()
	s.AwaitQueued(1)
	stalled := make(chan func(), 1)
	go func() { stalled <- s.Stall() }() // queued after the Append
	s.AwaitQueued(2)
	resumeA()
	resumeB := <-stalled // the writer ran the Append and stalls after it, in the same transaction
	cancel()
	// Let the caller see its context end before the outcome is ready (a
	// pause only, to give a wrong answer the chance to show; the result
	// must be the same whatever the interleaving).
	time.Sleep(20 * time.Millisecond)
	resumeB()
	is.NoErr(<-done)
	r, es, err := s.Load(t.Context(), "r")
	is.NoErr(err)
	is.Equal(len(es), 1) // committed, as acknowledged
	is.Equal(string(r.State), "x")
}

// A write whose transaction cannot begin, another process holding the
// write lock past the busy timeout, is answered with the error, and the
// writer goes on: the next write commits once the lock is free.
func TestBeginFailureAnswered(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	s := open(t, path, sqlite.WithBusyTimeout(20*time.Millisecond))
	defer s.Close()
	is.NoErr(s.Create(t.Context(), journal.Run{ID: "r", Status: journal.Running, LeaseOwner: "w", LeaseExpiry: time.Now().Add(time.Hour)}))
	unlock := lockNewFile(t, path) // the file exists: this holds its write lock
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := s.Append(ctx, "r", "w", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"})
	is.True(err != nil)
	is.True(ctx.Err() == nil) // answered by the writer, not by giving up
	unlock()
	is.NoErr(s.Append(ctx, "r", "w", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "b"}))
	_, es, err := s.Load(ctx, "r")
	is.NoErr(err)
	is.Equal(len(es), 1)
	is.Equal(es[0].Step, "b")
}

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
)

// createRuns creates n running runs leased to owner.
func createRuns(t *testing.T, s *postgres.Store, n int, owner string) {
	t.Helper()
	for i := range n {
		err := s.Create(t.Context(), journal.Run{ID: fmt.Sprintf("run-%d", i), Status: journal.Running,
			LeaseOwner: owner, LeaseExpiry: time.Now().Add(time.Hour)}, journal.Entry{Kind: journal.RunStarted})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestGroupCommit: writes queued while the writer is busy go out in one
// batch, one round trip and one commit.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newStore(t, postgres.WithWriters(1))
	const n = 64
	createRuns(t, s, n, "w1")

	resume := s.Stall()
	b0, c0, o0 := s.Batches()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- s.Append(context.Background(), fmt.Sprintf("run-%d", i), "w1", journal.Update{},
				journal.Entry{Kind: journal.StepStarted, Step: "a"})
		})
	}
	s.AwaitQueued(n)
	resume()
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err)
	}
	b1, c1, o1 := s.Batches()
	// The stalled op's batch (counted when it is sent), then the 64
	// appends together.
	is.Equal(b1-b0, int64(2))
	is.Equal(c1-c0, int64(2))
	is.Equal(o1-o0, int64(n+1))
}

// TestGroupCommitConcurrent drives 64 runs at once, as a worker does:
// their appends share commits.
func TestGroupCommitConcurrent(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newStore(t)
	const n, steps = 64, 10
	createRuns(t, s, n, "w1")
	b0, c0, o0 := s.Batches()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			for step := range steps {
				err := s.Append(context.Background(), fmt.Sprintf("run-%d", i), "w1", journal.Update{},
					journal.Entry{Kind: journal.StepSucceeded, Step: fmt.Sprint(step)},
					journal.Entry{Kind: journal.StepStarted, Step: fmt.Sprint(step + 1)})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err)
	}
	b1, c1, o1 := s.Batches()
	is.Equal(o1-o0, int64(n*steps))
	perCommit := float64(o1-o0) / float64(c1-c0)
	t.Logf("%d appends in %d commits (%d round trips): %.1f ops per commit", o1-o0, c1-c0, b1-b0, perCommit)
	if perCommit <= 1 {
		t.Fatalf("%.2f ops per commit with %d concurrent appenders, want more than 1", perCommit, n)
	}
}

// TestFailingOpAlone: in one batch, an op the server refuses (a text
// with a NUL byte) fails alone, so does one whose check fails (a lost
// lease), and the others commit.
func TestFailingOpAlone(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	s := newStore(t, postgres.WithWriters(1))
	createRuns(t, s, 1, "w1")

	resume := s.Stall()
	type result struct {
		what string
		err  error
	}
	results := make(chan result, 5)
	do := func(what string, f func() error) { go func() { results <- result{what, f()} }() }
	do("good create 1", func() error { return s.Create(ctx, journal.Run{ID: "good-1", Status: journal.Pending}) })
	do("bad create", func() error { return s.Create(ctx, journal.Run{ID: "bad", Saga: "nul\x00byte"}) })
	do("good append", func() error {
		return s.Append(ctx, "run-0", "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted})
	})
	do("lost lease", func() error {
		return s.Append(ctx, "run-0", "w2", journal.Update{}, journal.Entry{Kind: journal.StepStarted})
	})
	do("good create 2", func() error { return s.Create(ctx, journal.Run{ID: "good-2", Status: journal.Pending}) })
	s.AwaitQueued(5)
	resume()
	for range 5 {
		r := <-results
		switch r.what {
		case "bad create":
			is.True(r.err != nil)
			is.True(!errors.Is(r.err, journal.ErrExists))
		case "lost lease":
			is.True(errors.Is(r.err, journal.ErrLeaseLost))
		default:
			if r.err != nil {
				t.Errorf("%s: %v", r.what, r.err)
			}
		}
	}
	for _, id := range []string{"good-1", "good-2"} {
		_, _, err := s.Load(ctx, id)
		is.NoErr(err)
	}
	_, _, err := s.Load(ctx, "bad")
	is.True(errors.Is(err, journal.ErrNotFound))
	_, es, err := s.Load(ctx, "run-0")
	is.NoErr(err)
	is.Equal(len(es), 2) // RunStarted and the good append's
}

// TestCanceledBeforeTaken: a write whose context ends while it waits in
// the queue is dropped, not written.
func TestCanceledBeforeTaken(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newStore(t, postgres.WithWriters(1))
	resume := s.Stall()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Create(ctx, journal.Run{ID: "r1", Status: journal.Pending}) }()
	s.AwaitQueued(1)
	cancel()
	is.True(errors.Is(<-done, context.Canceled))
	resume()
	_, _, err := s.Load(context.Background(), "r1")
	is.True(errors.Is(err, journal.ErrNotFound))
}

// TestRequestsWhileAppending: another store records requests on a run
// while its owner appends to it, so that their entries race for the next
// Seq. Every write either succeeds or gets a journal answer, and the
// journal stays numbered without gaps or repeats.
func TestRequestsWhileAppending(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	schema := newSchema(t)
	owner, err := postgres.New(ctx, sharedPool(t), postgres.WithSchema(schema))
	is.NoErr(err)
	defer owner.Close()
	operator, err := postgres.Open(ctx, testDSN(t), postgres.WithSchema(schema))
	is.NoErr(err)
	defer operator.Close()
	is.NoErr(owner.Create(ctx, journal.Run{ID: "r1", Status: journal.Running, LeaseOwner: "w1",
		LeaseExpiry: time.Now().Add(time.Hour)}, journal.Entry{Kind: journal.RunStarted}))

	const appends = 150
	var requests int
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			err := operator.Request(ctx, "r1", journal.Request{Verb: journal.Resume})
			switch {
			case err == nil:
				requests++
			case !errors.Is(err, journal.ErrPending):
				done <- err
				return
			}
		}
	}()
	for i := range appends {
		err := owner.Append(ctx, "r1", "w1", journal.Update{ClearRequest: i%2 == 0},
			journal.Entry{Kind: journal.StepStarted, Step: fmt.Sprint(i)})
		if err != nil {
			close(stop)
			t.Fatalf("append %d: %v", i, err)
		}
	}
	close(stop)
	is.NoErr(<-done)
	_, es, err := owner.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(len(es), 1+appends+requests)
	for i, e := range es {
		is.Equal(e.Seq, int64(i+1))
	}
	t.Logf("%d appends and %d requests", appends, requests)
}

// TestOddText: an error or note with bytes PostgreSQL's text refuses (a
// NUL, invalid UTF-8) is journaled with U+FFFD in their place, rather
// than fail the write.
func TestOddText(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	s := newStore(t)
	odd := "boom \xff\x00 end"
	is.NoErr(s.Create(ctx, journal.Run{ID: "r1", Status: journal.Running, Error: odd, Note: odd,
		LeaseOwner: "w1", LeaseExpiry: time.Now().Add(time.Hour)}, journal.Entry{Kind: journal.RunStarted, Error: odd, Note: odd}))
	is.NoErr(s.Append(ctx, "r1", "w1", journal.Update{Error: &odd}, journal.Entry{Kind: journal.StepFailed, Error: odd}))
	is.NoErr(s.Request(ctx, "r1", journal.Request{Verb: journal.Resume, Note: odd}))
	run, es, err := s.Load(ctx, "r1")
	is.NoErr(err)
	const want = "boom \uFFFD\uFFFD end"
	is.Equal(run.Error, want)
	is.Equal(run.Note, want)
	is.Equal(run.Request.Note, want)
	for _, e := range es {
		is.True(e.Error == want || e.Error == "")
	}
	is.Equal(es[0].Note, want)
	is.Equal(es[2].Note, want)
}

// TestBatchFailureNamesEachWrite: when a batch fails in a way that leaves
// its outcome unknown (here its time runs out while one of its writes
// waits for a row another transaction locked), each write's error names
// its own run, and says which write the batch failed at.
func TestBatchFailureNamesEachWrite(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	schema := newSchema(t)
	s, err := postgres.New(ctx, sharedPool(t), postgres.WithSchema(schema), postgres.WithWriters(1),
		postgres.WithWriteTimeout(300*time.Millisecond))
	is.NoErr(err)
	t.Cleanup(func() { _ = s.Close() })
	createRuns(t, s, 2, "w1")

	lock, err := sharedPool(t).Begin(ctx)
	is.NoErr(err)
	defer func() { _ = lock.Rollback(ctx) }()
	_, err = lock.Exec(ctx, `SELECT 1 FROM `+schema+`.runs WHERE id = 'run-0' FOR UPDATE`)
	is.NoErr(err)

	resume := s.Stall()
	errs := make([]chan error, 2)
	for i := range errs {
		errs[i] = make(chan error, 1)
		go func() {
			errs[i] <- s.Append(ctx, fmt.Sprintf("run-%d", i), "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"})
		}()
	}
	s.AwaitQueued(2)
	resume()
	blocked, other := <-errs[0], <-errs[1]
	is.True(blocked != nil && other != nil) // the batch failed as a whole
	is.True(strings.Contains(blocked.Error(), `"run-0"`))
	is.True(strings.Contains(blocked.Error(), "unknown"))
	is.True(strings.Contains(other.Error(), `"run-1"`)) // its own run
	is.True(strings.Contains(other.Error(), "unknown"))
	t.Logf("the blocked write: %v", blocked)
	t.Logf("the other write: %v", other)
}

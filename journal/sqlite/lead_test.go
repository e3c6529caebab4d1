package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
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

// Many callers write at once, some giving up while their write is queued,
// with batches of two so that the token changes hands all the time
// between callers and the writer's goroutine: every write is answered (no
// caller waits for a write no one will run), a write answered nil is
// stored and one given up is not.
func TestNoWriteLeftBehind(t *testing.T) {
	is := is.New(t)
	s := open(t, filepath.Join(t.TempDir(), "journal.db"), sqlite.WithBatchSize(2))
	defer s.Close()
	const callers, writes = 16, 150
	ctx := t.Context()
	for c := range callers {
		is.NoErr(s.Create(ctx, journal.Run{ID: fmt.Sprint(c), Status: journal.Running, LeaseOwner: "w", LeaseExpiry: time.Now().Add(time.Hour)}))
	}
	stored := make([]map[string]bool, callers)
	var wg sync.WaitGroup
	finished := make(chan struct{})
	for c := range callers {
		stored[c] = make(map[string]bool)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for i := range writes {
				wctx, cancel := context.WithCancel(ctx)
				if rng.IntN(8) == 0 {
					cancel() // gives up at once: queued or not, maybe taken
				}
				step := fmt.Sprintf("%d-%d", c, i)
				err := s.Append(wctx, fmt.Sprint(c), "w", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: step})
				cancel()
				switch {
				case err == nil:
					stored[c][step] = true
				case errors.Is(err, context.Canceled):
				default:
					t.Errorf("append %s: %v", step, err)
				}
			}
		})
	}
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		t.Fatal("a write was never answered") // a liveness failure, not a timing check
	}
	for c := range callers {
		_, es, err := s.Load(ctx, fmt.Sprint(c))
		is.NoErr(err)
		got := make(map[string]bool)
		for _, e := range es {
			got[e.Step] = true
		}
		is.Equal(got, stored[c]) // exactly the writes answered nil
	}
}

// A write queued while the writer's goroutine holds the token, after it
// found the queue empty and before it released the token, is still run:
// the goroutine looks at the queue again once it released the token.
func TestWriteQueuedAsWriterFinishes(t *testing.T) {
	is := is.New(t)
	s := open(t, filepath.Join(t.TempDir(), "journal.db"))
	defer s.Close()
	ctx := t.Context()
	is.NoErr(s.Create(ctx, journal.Run{ID: "r", Status: journal.Running, LeaseOwner: "w", LeaseExpiry: time.Now().Add(time.Hour)}))
	busy := make(chan struct{})
	answered := make(chan error, 1)
	var onBusy, onRelease sync.Once
	s.OnHandOff(func() { onBusy.Do(func() { close(busy) }) }, func() {
		onRelease.Do(func() {
			// The writer's goroutine, woken with nothing queued, is about
			// to release the token: a caller queues a write now, and
			// finds the token held.
			go func() {
				answered <- s.Append(ctx, "r", "w", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"})
			}()
			<-busy
		})
	})
	s.Wake()
	select {
	case err := <-answered:
		is.NoErr(err)
	case <-time.After(time.Minute):
		t.Fatal("the write queued as the writer finished was never run") // liveness, not timing
	}
	_, es, err := s.Load(ctx, "r")
	is.NoErr(err)
	is.Equal(len(es), 1)
}

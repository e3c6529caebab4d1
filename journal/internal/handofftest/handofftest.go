// Package handofftest holds the adversarial tests of the SQLite and
// PostgreSQL stores' writers, whose writes are run by whoever holds the
// writer's token: a calling goroutine that finds it free, or the writer's
// own goroutine. Both stores' tests call them.
package handofftest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// Hooks are a store's test hooks into its writer (export_test.go).
type Hooks interface {
	journal.Store
	// OnHandOff sets hooks the writer calls when a caller finds the token
	// held (busy) and when the token's holder is about to release it
	// (release).
	OnHandOff(busy, release func())
	// Wake wakes the writer's goroutine, as a caller does.
	Wake()
}

// createRuns creates runs "0" to n-1, running, leased to "w" for an hour.
func createRuns(t *testing.T, s journal.Store, n int) {
	t.Helper()
	for i := range n {
		if err := s.Create(t.Context(), journal.Run{ID: fmt.Sprint(i), Status: journal.Running,
			LeaseOwner: "w", LeaseExpiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
}

// started returns the steps of the run's StepStarted entries.
func started(t *testing.T, s journal.Store, run string) map[string]bool {
	t.Helper()
	_, es, err := s.Load(t.Context(), run)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]bool)
	for _, e := range es {
		if e.Kind == journal.StepStarted {
			got[e.Step] = true
		}
	}
	return got
}

// WriteQueuedAsWriterFinishes: a write queued while the writer's
// goroutine holds the token, after it found the queue empty and before it
// released the token, is still run: the goroutine looks at the queue
// again once it released the token. s must have one token (one writer)
// and no write in flight.
func WriteQueuedAsWriterFinishes(t *testing.T, s Hooks) {
	createRuns(t, s, 1)
	busy := make(chan struct{})
	answered := make(chan error, 1)
	var onBusy, onRelease sync.Once
	s.OnHandOff(func() { onBusy.Do(func() { close(busy) }) }, func() {
		onRelease.Do(func() {
			// The writer's goroutine, woken with nothing queued, is about
			// to release the token: a caller queues a write now, and
			// finds the token held.
			go func() {
				answered <- s.Append(t.Context(), "0", "w", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"})
			}()
			<-busy
		})
	})
	s.Wake()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the write queued as the writer finished was never run") // liveness, not timing
	}
	if got := started(t, s, "0"); !got["a"] || len(got) != 1 {
		t.Fatalf("run 0 has steps started %v, want a", got)
	}
}

// NoWriteLeftBehind: many callers write at once, some giving up while
// their write is queued: every write is answered (no caller waits for a
// write no one will run), a write answered nil is stored and one given up
// is not. Give it a store whose batches are small, so that the token
// changes hands all the time between callers and the writer's goroutine.
func NoWriteLeftBehind(t *testing.T, s journal.Store, callers, writes int) {
	createRuns(t, s, callers)
	stored := make([]map[string]bool, callers)
	var wg sync.WaitGroup
	for c := range callers {
		stored[c] = make(map[string]bool)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for i := range writes {
				ctx, cancel := context.WithCancel(t.Context())
				if rng.IntN(8) == 0 {
					cancel() // gives up at once: queued or not, maybe taken
				}
				step := fmt.Sprintf("%d-%d", c, i)
				err := s.Append(ctx, fmt.Sprint(c), "w", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: step})
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
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		t.Fatal("a write was never answered") // liveness, not timing
	}
	for c := range callers {
		if got := started(t, s, fmt.Sprint(c)); len(got) != len(stored[c]) {
			t.Errorf("run %d: %d steps stored, %d writes answered nil", c, len(got), len(stored[c]))
		} else {
			for step := range stored[c] {
				if !got[step] {
					t.Errorf("run %d: step %s answered nil, not stored", c, step)
				}
			}
		}
	}
}

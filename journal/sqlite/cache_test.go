package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// Two stores on one file, as two processes: when the second takes over a
// run whose lease expired, the first, which knew that run's lease, must
// see it lost, and the Seqs of both must follow each other.
func TestLeaseCacheSeesOtherProcesses(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	var mu sync.Mutex
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	path := filepath.Join(t.TempDir(), "journal.db")
	a := open(t, path, sqlite.WithClock(clock))
	defer a.Close()
	b := open(t, path, sqlite.WithClock(clock))
	defer b.Close()

	run := journal.Run{ID: "r1", Saga: "s", Fingerprint: "f", Status: journal.Running, LeaseOwner: "a", LeaseExpiry: now.Add(time.Minute)}
	is.NoErr(a.Create(ctx, run, journal.Entry{Kind: journal.RunStarted}))
	is.NoErr(a.Append(ctx, "r1", "a", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "x"}))

	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	_, err := b.Acquire(ctx, "r1", "b", time.Minute)
	is.NoErr(err)
	is.NoErr(b.Append(ctx, "r1", "b", journal.Update{}, journal.Entry{Kind: journal.StepSucceeded, Step: "x"}))

	err = a.Append(ctx, "r1", "a", journal.Update{}, journal.Entry{Kind: journal.StepSucceeded, Step: "x"})
	is.True(errors.Is(err, journal.ErrLeaseLost)) // a's knowledge of the lease is stale

	_, err = a.Acquire(ctx, "r1", "a", time.Minute)
	is.True(errors.Is(err, journal.ErrLeaseLost)) // b holds it
	is.NoErr(b.Release(ctx, "r1", "b"))
	_, err = a.Acquire(ctx, "r1", "a", time.Minute)
	is.NoErr(err)
	is.NoErr(a.Append(ctx, "r1", "a", journal.Update{}, journal.Entry{Kind: journal.RunEnded}))

	_, entries, err := b.Load(ctx, "r1")
	is.NoErr(err)
	for i, e := range entries {
		is.Equal(e.Seq, int64(i+1)) // no Seq reused across the two writers
	}
	is.Equal(len(entries), 4)
}

// The lease cache holds the runs being driven: a run's last write, which
// releases its lease, drops it, so that a long-lived worker's cache does
// not grow with every run it ever drove. The run's next writer reads its
// lease again.
func TestLeaseCacheDropsReleasedRuns(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "journal.db"))
	defer s.Close()
	for i := range 50 {
		id := fmt.Sprintf("r%d", i)
		is.NoErr(s.Create(ctx, journal.Run{ID: id, Saga: "s", Fingerprint: "f", Status: journal.Running,
			LeaseOwner: "a", LeaseExpiry: time.Now().Add(time.Minute)}, journal.Entry{Kind: journal.RunStarted}))
		is.NoErr(s.Append(ctx, id, "a", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "x"}))
		is.NoErr(s.Append(ctx, id, "a", journal.Update{Status: journal.Succeeded, Release: true},
			journal.Entry{Kind: journal.RunEnded, Status: journal.Succeeded}))
	}
	is.Equal(s.CachedLeases(), 0)

	err := s.Append(ctx, "r0", "a", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "y"})
	is.True(errors.Is(err, journal.ErrLeaseLost)) // released: read again, and refused
	_, err = s.Acquire(ctx, "r0", "b", time.Minute)
	is.NoErr(err)
	is.NoErr(s.Append(ctx, "r0", "b", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "y"}))
	_, entries, err := s.Load(ctx, "r0")
	is.NoErr(err)
	is.Equal(len(entries), 4)
	is.Equal(entries[3].Seq, int64(4))
}

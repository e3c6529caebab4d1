package sqlite

import (
	"context"
	"runtime"
	"sync"
)

// Commits returns how many write transactions the store committed and
// how many ops they carried.
func (s *Store) Commits() (commits, ops int64) {
	return s.w.commits.Load(), s.w.committed.Load()
}

// CachedLeases returns how many runs the writer's lease cache holds.
func (s *Store) CachedLeases() (n int) {
	_ = s.do(context.Background(), func(w *writer, _ int64) error { n = len(w.leases); return nil })
	return n
}

// SchemaVersion is the schema version this code writes.
var SchemaVersion = len(migrations)

// Stall blocks the writer inside a transaction until resume is called,
// so that a test can queue ops and have them committed as one batch: the
// stalled transaction takes them once resumed. Its op may run twice, as
// every op may (a batch rolled back runs its ops again one by one).
func (s *Store) Stall() (resume func()) {
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go func() {
		_ = s.do(context.Background(), func(*writer, int64) error {
			once.Do(func() { close(started) })
			<-release
			return nil
		})
	}()
	<-started
	return func() { close(release) }
}

// AwaitQueued waits until n ops are queued for the writer.
func (s *Store) AwaitQueued(n int) {
	for len(s.w.ops) < n {
		runtime.Gosched()
	}
}

// Migration returns the SQL of migration i (to schema version i+1).
func Migration(i int) string { return migrations[i].sql }

// ClaimSQL is Claim's query.
const ClaimSQL = claimSQL

// Led returns how many write transactions were run by a calling goroutine
// rather than by the writer's own.
func (s *Store) Led() int64 { return s.w.led.Load() }

// OnHandOff sets hooks the writer calls when a caller finds its token
// held (busy) and when the token's holder is about to release it
// (release). Set them before writing.
func (s *Store) OnHandOff(busy, release func()) { s.w.onBusy, s.w.onRelease = busy, release }

// Wake wakes the writer's goroutine, as a caller does.
func (s *Store) Wake() {
	select {
	case s.w.wake <- struct{}{}:
	default:
	}
}

package postgres

import (
	"context"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
)

// Batches returns how many batches (round trips) the store's writers
// sent, how many transactions they committed and how many ops those
// carried.
func (s *Store) Batches() (batches, commits, ops int64) {
	return s.w.batches.Load(), s.w.commits.Load(), s.w.committed.Load()
}

// SchemaVersion is the schema version this code writes.
var SchemaVersion = len(migrations)

// Channel is the store's notification channel.
func (s *Store) Channel() string { return s.w.channel }

// Stall blocks one writer inside a batch until resume is called, so that
// a test can queue ops and have the other writers (or, with one writer,
// the next batch) take them together.
func (s *Store) Stall() (resume func()) {
	started, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.do(context.Background(), &op{
			queue: func(*pgx.Batch, any) {
				close(started)
				<-release
			},
			read: func(pgx.BatchResults) error { return nil },
		})
	}()
	<-started
	return func() { close(release) }
}

// AwaitQueued waits until n ops are queued for the writers.
func (s *Store) AwaitQueued(n int) {
	for len(s.w.ops) < n {
		runtime.Gosched()
	}
}

// RedactDSN and Secrets expose the redaction helpers.
var (
	RedactDSN = redactDSN
	Scrub     = func(err error, dsn string) error { return scrub(err, secrets(dsn)) }
)

// SetCallerClock replaces the clock Create reads the caller's time from.
func (s *Store) SetCallerClock(now func() time.Time) { s.callerNow = now }

// Subscribers returns how many channels Wakeups feeds.
func (s *Store) Subscribers() int {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	return len(s.l.subs)
}

// MigrateTo brings schema up to version target, an old one, as a store of
// that version would have.
var MigrateTo = migrateTo

// Led returns how many batches were sent by a calling goroutine rather
// than by a writer's own.
func (s *Store) Led() int64 { return s.w.led.Load() }

// OnHandOff sets hooks the writer calls when a caller finds every slot
// held (busy) and when a slot's holder is about to release it (release).
// Set them before writing.
func (s *Store) OnHandOff(busy, release func()) { s.w.onBusy, s.w.onRelease = busy, release }

// Wake wakes a writer's goroutine, as a caller does.
func (s *Store) Wake() { s.w.signal() }

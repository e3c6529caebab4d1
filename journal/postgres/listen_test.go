package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
)

// awaitWake waits, generously, for a wake-up on ch.
func awaitWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up within 10s after %s", what)
	}
}

// drain empties ch of the wake-ups already sent.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
			return
		}
	}
}

// TestWakeupsAcrossStores: a store wakes the listeners of another store
// on the same schema (another worker process, in production).
func TestWakeupsAcrossStores(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	a, err := postgres.Open(ctx, testDSN(t), postgres.WithSchema(schema))
	is.NoErr(err)
	defer a.Close()
	b, err := postgres.New(ctx, sharedPool(t), postgres.WithSchema(schema))
	is.NoErr(err)
	defer b.Close()
	other := newStore(t) // another schema: its events wake no one here

	wake := b.Wakeups(ctx)
	awaitWake(t, wake, "listening began") // the listener wakes everyone when it (re)connects
	drain(wake)

	is.NoErr(other.Create(ctx, journal.Run{ID: "elsewhere", Status: journal.Pending}))
	select {
	case <-wake:
		t.Fatal("woken by a store on another schema")
	case <-time.After(300 * time.Millisecond):
	}

	is.NoErr(a.Create(ctx, journal.Run{ID: "r1", Status: journal.Pending}))
	awaitWake(t, wake, "a pending run was created by another store")
	is.NoErr(a.Create(ctx, journal.Run{ID: "r2", Status: journal.Paused}))
	drain(wake)
	is.NoErr(a.Request(ctx, "r2", journal.Request{Verb: journal.Resume}))
	awaitWake(t, wake, "a request was recorded by another store")
	_, err = a.Acquire(ctx, "r1", "w1", time.Minute)
	is.NoErr(err)
	drain(wake)
	is.NoErr(a.Release(ctx, "r1", "w1"))
	awaitWake(t, wake, "a lease was released by another store")
}

// TestWakeupsReconnect: when the listening connection is killed, the
// listener connects again and wakes everyone, and later events wake
// them as before.
func TestWakeupsReconnect(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	s := newStore(t)
	wake := s.Wakeups(ctx)
	awaitWake(t, wake, "listening began")
	drain(wake)

	killed := query[int](t, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query = 'LISTEN "' || $1 || '"'`, s.Channel())
	is.Equal(killed, 1)
	awaitWake(t, wake, "the listener reconnected")
	drain(wake)

	is.NoErr(s.Create(ctx, journal.Run{ID: "r1", Status: journal.Pending}))
	awaitWake(t, wake, "a pending run was created after the reconnection")
}

// TestWakeupsEnd: a channel whose context ended, or whose store closed,
// is no longer fed, and is not closed.
func TestWakeupsEnd(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	ended := s.Wakeups(ctx)
	live := s.Wakeups(t.Context())
	awaitWake(t, live, "listening began")
	cancel()
	for s.Subscribers() > 1 { // the context's AfterFunc runs on its own goroutine
		time.Sleep(time.Millisecond)
	}
	// What reached ended before it was let go (the listener's first
	// wake-up goes to every channel, not to all at once) is not a wake-up
	// after its end.
	drain(ended)

	is.NoErr(s.Create(t.Context(), journal.Run{ID: "r1", Status: journal.Pending}))
	awaitWake(t, live, "a pending run was created")
	select {
	case _, ok := <-ended:
		is.True(ok) // never closed
		t.Fatal("a channel whose context ended was woken")
	case <-time.After(200 * time.Millisecond):
	}

	is.NoErr(s.Close())
	select {
	case <-s.Wakeups(t.Context()):
		t.Fatal("Wakeups after Close fired")
	case <-time.After(50 * time.Millisecond):
	}
}

package postgres

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The listener is one connection, outside the pool, that LISTENs on the
// store's channel and fans each notification out to the channels
// Wakeups returned. It starts with the first call to Wakeups and runs
// until Close, connecting again, with backoff, whenever its connection
// breaks; after each (re)connection it wakes everyone, since events may
// have gone unheard while it was away.

type listener struct {
	cfg     *pgx.ConnConfig
	channel string

	mu      sync.Mutex
	subs    map[chan struct{}]struct{}
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// Backoff between connection attempts.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

func newListener(cfg *pgx.ConnConfig, channel string) *listener {
	return &listener{cfg: cfg, channel: channel, subs: make(map[chan struct{}]struct{}), done: make(chan struct{})}
}

// Wakeups implements [journal.Waker]. The returned channel receives a
// value soon after a run was created without a lease (pending, or
// otherwise needing a worker), a request was recorded, a lease was
// released or a signal woke a waiting run, by this store or any other on
// the same schema and database;
// and after the listening connection was (re)established. Events close
// together share one value. The channel receives nothing once ctx ends or
// the store is closed, and is never closed.
//
// The store listens with PostgreSQL's LISTEN/NOTIFY on one connection of
// its own, which it opens at the first call (not through a pooler in
// transaction mode: LISTEN needs a session). Wake-ups may be lost, while
// that connection is down for instance: poll as well.
func (s *Store) Wakeups(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	if !s.reading() {
		return ch
	}
	defer s.mu.RUnlock()
	if ctx.Err() != nil {
		return ch
	}
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ch
	}
	l.subs[ch] = struct{}{}
	context.AfterFunc(ctx, func() {
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
	})
	if !l.started {
		l.started = true
		var lctx context.Context
		lctx, l.cancel = context.WithCancel(context.Background())
		go l.run(lctx)
	}
	return ch
}

// wake sends to every subscriber that has no value pending.
func (l *listener) wake() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	backoff := minBackoff
	for ctx.Err() == nil {
		if l.listen(ctx) {
			backoff = minBackoff // it was up: try again soon
		}
		// Full jitter, so that a fleet whose server came back does not
		// reconnect all at once.
		t := time.NewTimer(rand.N(backoff) + time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listen connects, listens and relays notifications until the connection
// breaks or ctx ends. It reports whether it got as far as listening.
func (l *listener) listen(ctx context.Context) bool {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return false
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()); err != nil {
		return false
	}
	l.wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true
		}
		l.wake()
	}
}

// close stops the listener and forgets every subscriber.
func (l *listener) close() {
	l.mu.Lock()
	l.closed = true
	clear(l.subs)
	started, cancel := l.started, l.cancel
	l.mu.Unlock()
	if started {
		cancel()
		<-l.done
	}
}

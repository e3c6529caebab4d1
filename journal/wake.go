package journal

import (
	"context"
	"sync"
)

// Broadcast is the listening side of [Waker], for stores that implement
// it: [Broadcast.Fire] wakes every channel [Broadcast.Wakeups] returned.
// The zero Broadcast is ready to use; it is safe for concurrent use.
type Broadcast struct {
	mu sync.Mutex
	ch chan struct{} // closed, and replaced, by Fire
}

// current returns the channel the next Fire closes.
func (b *Broadcast) current() chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// Fire wakes every listener.
func (b *Broadcast) Fire() {
	b.mu.Lock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
	b.mu.Unlock()
}

// Wakeups returns a channel that receives a value after each Fire (several
// Fires may share one value), until ctx ends.
//
// The listener is subscribed when Wakeups returns: a Fire after that is
// never missed. After each wake-up it subscribes again before it tells
// the reader, so that a Fire in between is covered by the wake-up the
// reader has yet to receive.
func (b *Broadcast) Wakeups(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	ch := b.current()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				ch = b.current()
				select {
				case out <- struct{}{}:
				default: // one wake-up pending is enough
				}
			}
		}
	}()
	return out
}

// Wakeups implements [Waker]: a pending run created, a request recorded
// or a lease released wakes the channel's reader.
func (m *Memory) Wakeups(ctx context.Context) <-chan struct{} { return m.wake.Wakeups(ctx) }

var _ Waker = (*Memory)(nil)

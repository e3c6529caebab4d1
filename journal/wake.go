package journal

import "context"

// waker broadcasts that runs may need a worker: a closed channel, replaced
// by a new one on every event. The zero waker is ready once init ran.
type waker struct {
	ch chan struct{} // guarded by the store's mutex
}

// fire wakes every listener. The store's mutex must be held.
func (w *waker) fire() {
	if w.ch != nil {
		close(w.ch)
	}
	w.ch = make(chan struct{})
}

// Wakeups implements [Waker]: a pending run created, a request recorded
// or a lease released wakes the channel's reader.
func (m *Memory) Wakeups(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		for {
			m.mu.Lock()
			if m.wake.ch == nil {
				m.wake.ch = make(chan struct{})
			}
			ch := m.wake.ch
			m.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-ch:
				select {
				case out <- struct{}{}:
				default: // one wake-up pending is enough
				}
			}
		}
	}()
	return out
}

var _ Waker = (*Memory)(nil)

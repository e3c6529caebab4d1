package sagatest

import (
	"sync"
	"time"
)

// Clock is a fake clock for a store's leases and timers: give its Now to
// the store ([journal.WithClock] for the in-memory store; the SQLite
// store has a WithClock option too), and the test decides when leases
// expire and timers fall due, without sleeping. Time stands still until
// [Clock.Advance] moves it.
//
// The zero Clock reads the real time at its first use, and stands there.
// A Clock is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.start()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.start()
	c.now = c.now.Add(d)
}

// start sets the time of a zero Clock.
func (c *Clock) start() {
	if c.now.IsZero() {
		c.now = time.Now().Round(0)
	}
}

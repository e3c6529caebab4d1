package durable_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// clock is a fake time for the store's leases.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var errCrash = errors.New("simulated crash: the process died here")

// crashing wraps a store and fails every Append after the first n: a
// process that dies at that journal write. Its run stays leased and
// unfinished, as after a real crash.
type crashing struct {
	journal.Store
	left atomic.Int32
}

func crashAfter(s journal.Store, n int) *crashing {
	c := &crashing{Store: s}
	c.left.Store(int32(n))
	return c
}

func (c *crashing) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	if c.left.Add(-1) < 0 {
		return errCrash
	}
	return c.Store.Append(ctx, runID, owner, u, entries...)
}

// A dead process renews and releases nothing.
func (c *crashing) Release(ctx context.Context, runID, owner string) error {
	if c.left.Load() < 0 {
		return errCrash
	}
	return c.Store.Release(ctx, runID, owner)
}

func (c *crashing) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	if c.left.Load() < 0 {
		return errCrash
	}
	return c.Store.Renew(ctx, runID, owner, ttl)
}

// kinds lists the kinds (and steps) of a run's journal.
func kinds(entries []journal.Entry) []string {
	var out []string
	for _, e := range entries {
		s := string(e.Kind)
		if e.Step != "" {
			s += " " + e.Step
		}
		out = append(out, s)
	}
	return out
}

package state

import (
	"encoding/json"
	"sync"
)

// Cell is a value of type T guarded by a mutex, for state fields that
// concurrent steps share. The zero Cell holds T's zero value and is ready
// to use. A Cell must not be copied after first use.
//
// Get returns T by value: for a T holding references (a slice, a map, a
// pointer), copy what you need inside [Cell.Update] or [Cell.With] rather
// than mutating what Get returned.
type Cell[T any] struct {
	mu sync.Mutex
	v  T
	// log is nil except in a [Fork]'s state, where it keeps the changes
	// made since [NewFork], for [Fork.Merge] to replay on the run's state.
	log *[]func(*T)
}

// Get returns the value.
func (c *Cell[T]) Get() T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v
}

// Set replaces the value.
func (c *Cell[T]) Set(v T) {
	c.mu.Lock()
	c.v = v
	if c.log != nil {
		c.logSet(v)
	}
	c.mu.Unlock()
}

// Update replaces the value with f's result, holding the lock while f
// runs. f must not use the Cell.
//
// In a durable run with steps running at once, f may be called again,
// on the run's state, when the step's changes are merged (see [Fork]):
// f must change nothing but the value it returns — append to a slice,
// add to a total — and compute from the value it is given.
func (c *Cell[T]) Update(f func(T) T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v = f(c.v)
	if c.log != nil {
		*c.log = append(*c.log, func(v *T) { *v = f(*v) })
	}
}

// With calls f with a pointer to the value, holding the lock while f runs.
// f must not keep the pointer or use the Cell.
//
// In a durable run with steps running at once, f may be called again,
// on the run's state, when the step's changes are merged (see [Fork]):
// f must change nothing but the value it is given.
func (c *Cell[T]) With(f func(*T)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.v)
	if c.log != nil {
		*c.log = append(*c.log, f)
	}
}

// MarshalJSON encodes the value, so a Cell in a state struct journals as
// the value it holds.
func (c *Cell[T]) MarshalJSON() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return json.Marshal(c.v)
}

// UnmarshalJSON decodes into the value.
func (c *Cell[T]) UnmarshalJSON(data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return json.Unmarshal(data, &c.v)
}

// logSet records a Set. It is a method of its own so that v moves to the
// heap only when a Fork records it.
func (c *Cell[T]) logSet(v T) {
	*c.log = append(*c.log, func(p *T) { *p = v })
}

// startRecording makes the Cell keep its changes, for [Fork.Merge].
func (c *Cell[T]) startRecording() {
	c.mu.Lock()
	if c.log == nil {
		c.log = new([]func(*T))
	}
	c.mu.Unlock()
}

// replayOnto applies the recorded changes, in order, to dst, a *Cell[T],
// under dst's lock.
func (c *Cell[T]) replayOnto(dst any) {
	d := dst.(*Cell[T])
	c.mu.Lock()
	var log []func(*T)
	if c.log != nil {
		log = *c.log
	}
	c.mu.Unlock()
	if len(log) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range log {
		f(&d.v)
	}
}

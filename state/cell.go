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
	c.mu.Unlock()
}

// Update replaces the value with f's result, holding the lock while f
// runs. f must not use the Cell.
func (c *Cell[T]) Update(f func(T) T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v = f(c.v)
}

// With calls f with a pointer to the value, holding the lock while f runs.
// f must not keep the pointer or use the Cell.
func (c *Cell[T]) With(f func(*T)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.v)
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

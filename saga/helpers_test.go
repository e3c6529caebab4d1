package saga_test

import (
	"context"
	"errors"
	"sync"
)

// trip is the state of the test sagas: a log of what ran, in order.
type trip struct {
	mu  sync.Mutex
	log []string
}

func (t *trip) add(s string) {
	t.mu.Lock()
	t.log = append(t.log, s)
	t.mu.Unlock()
}

func (t *trip) events() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.log...)
}

// do returns an action that logs "do name" and returns err.
func do(name string, err error) func(context.Context, *trip) error {
	return func(_ context.Context, t *trip) error {
		t.add("do " + name)
		return err
	}
}

// undo returns a compensation that logs "undo name" and returns err.
func undo(name string, err error) func(context.Context, *trip) error {
	return func(_ context.Context, t *trip) error {
		t.add("undo " + name)
		return err
	}
}

var errBoom = errors.New("boom")

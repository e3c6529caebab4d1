package graph

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// walk runs a function on nodes of a dependency graph, each node as soon
// as the nodes it waits for are done, at most limit at a time. It serves
// both directions: forward over dependencies, backward (for compensation)
// over dependents.
//
// There is no central loop: the goroutine that finishes a node starts the
// nodes it released. Each node has a counter of what it still waits for,
// plus one for the walk itself, and it starts only when its counter drops
// to zero: whoever makes that drop (the walk releasing it, or the last
// node it waited for) starts it, and that happens once. So no node starts
// twice, even when a node finishes while the walk is still releasing the
// others, and a node the walk does not cover never starts.
//
// Under a limit, a node that finds no free slot is queued, and a
// goroutine that finishes a node takes the next queued one before it
// exits; the slot count and the queue share a mutex, so no node is left
// behind or taken twice.
type walk struct {
	g       *errgroup.Group
	ctx     context.Context // no new node starts once it is done
	run     func(i int) error
	next    func(i int) []int // nodes that wait for i
	waiting []atomic.Int32    // how many nodes each node still waits for, plus one until released
	limit   int               // <= 0: none

	mu     sync.Mutex
	queue  []int
	active int
	ok     atomic.Int32 // nodes whose run succeeded
}

// newWalk returns a walk over a graph of n nodes. A run's error stops the
// walk: it must end ctx, as errgroup.WithContext does.
func newWalk(g *errgroup.Group, ctx context.Context, n, limit int, run func(int) error, next func(int) []int) *walk {
	return &walk{g: g, ctx: ctx, limit: limit, run: run, next: next, waiting: make([]atomic.Int32, n)}
}

// all runs the nodes in nodes, each after the nodes of nodes it waits
// for, and returns once every started node has ended. Nodes with nothing
// to wait for start in the order of nodes. A node not in nodes never
// starts, even when next names it.
func (w *walk) all(nodes []int) {
	// Count before anything starts: no goroutine reads a counter yet.
	for i := range w.waiting {
		w.waiting[i].Store(1)
	}
	for _, i := range nodes {
		for _, j := range w.next(i) {
			w.waiting[j].Add(1)
		}
	}
	for _, i := range nodes {
		w.release(i)
	}
	w.g.Wait()
}

// release counts down what node i waits for, and starts it at zero.
func (w *walk) release(i int) {
	if w.waiting[i].Add(-1) == 0 {
		w.start(i)
	}
}

// start starts node i now, or queues it when the limit is reached.
func (w *walk) start(i int) {
	if w.limit > 0 {
		w.mu.Lock()
		if w.active >= w.limit {
			w.queue = append(w.queue, i)
			w.mu.Unlock()
			return
		}
		w.active++
		w.mu.Unlock()
	}
	w.g.Go(func() error { return w.loop(i) })
}

// loop runs node i, releases the nodes waiting for it, and under a limit
// goes on with queued nodes. After an error, or once ctx is done, it
// frees its slot and leaves the queue: no new node starts.
func (w *walk) loop(i int) error {
	for {
		err := w.node(i)
		if w.limit <= 0 {
			return err
		}
		w.mu.Lock()
		if err != nil || len(w.queue) == 0 || w.ctx.Err() != nil {
			w.active--
			w.mu.Unlock()
			return err
		}
		i = w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()
	}
}

func (w *walk) node(i int) error {
	if w.ctx.Err() != nil {
		return nil // stopped: this node does not start
	}
	if err := w.run(i); err != nil {
		if errors.Is(err, ErrStop) || errors.Is(err, ErrHold) {
			return nil // the walk is stopped (its context is done), or the node holds
		}
		return err
	}
	w.ok.Add(1)
	for _, j := range w.next(i) {
		w.release(j)
	}
	return nil
}

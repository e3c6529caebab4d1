package parallel

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// walk runs a function on every node of a dependency graph, each node as
// soon as the nodes it waits for are done, at most limit at a time. It
// serves both directions: forward over dependencies, backward (for
// compensation) over dependents.
//
// There is no central loop: the goroutine that finishes a node starts the
// nodes it released. Under a limit, a node that finds no free slot is
// queued, and a goroutine that finishes a node takes the next queued one
// before it exits; the slot count and the queue share a mutex, so no node
// is left behind.
type walk struct {
	g       *errgroup.Group
	ctx     context.Context // no new node starts once it is done
	run     func(i int) error
	next    func(i int) []int // nodes that wait for i
	waiting []atomic.Int32    // how many nodes each node still waits for
	limit   int               // <= 0: none

	mu     sync.Mutex
	queue  []int
	active int
	ok     atomic.Int32 // nodes whose run succeeded
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
// goes on with queued nodes.
func (w *walk) loop(i int) error {
	for {
		if err := w.node(i); err != nil {
			return err
		}
		if w.limit <= 0 {
			return nil
		}
		w.mu.Lock()
		if len(w.queue) == 0 || w.ctx.Err() != nil {
			w.active--
			w.mu.Unlock()
			return nil
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
		return err
	}
	w.ok.Add(1)
	for _, j := range w.next(i) {
		if w.waiting[j].Add(-1) == 0 {
			w.start(j)
		}
	}
	return nil
}

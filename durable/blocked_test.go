package durable_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// Runs no worker here can drive — an unregistered saga, a changed
// definition, a snapshot that cannot be decoded — are set aside with the
// reason, and a good crashed run behind them is recovered.
func TestUndrivableRunsDoNotBlockOthers(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	ctx := context.Background()
	var c calls
	fp := orderSaga(&c).Plan().Fingerprint()
	bad := map[string]journal.Run{}
	for k := range 18 { // older than the good run, more than a batch
		id := fmt.Sprintf("bad-%02d", k)
		run := journal.Run{ID: id, Saga: "order", Fingerprint: fp, Status: journal.Running, State: []byte(`{}`)}
		switch k % 3 {
		case 0:
			run.Saga = "ghost"
		case 1:
			run.Fingerprint = "an older definition"
		case 2:
			run.State = []byte("not json")
		}
		is.NoErr(store.Create(ctx, run, journal.Entry{Kind: journal.RunStarted, State: run.State}))
		bad[id] = run
		clk.advance(time.Millisecond)
	}
	crashRun(t, store, orderSaga(&c, saga.Idempotent()), 1, &Order{})

	worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl))
	_, _ = durable.Register(worker, orderSaga(&c, saga.Idempotent()))
	clk.advance(2 * ttl)
	for range 3 {
		_, err := worker.Recover(ctx, 16)
		is.True(err == nil || errors.Is(err, durable.ErrUnknownSaga) || errors.Is(err, durable.ErrDefinitionChanged))
	}
	run, _, _ := store.Load(ctx, "run-c")
	is.Equal(run.Status, journal.Succeeded) // recovered despite the backlog
	for id := range bad {
		run, entries, _ := store.Load(ctx, id)
		is.Equal(run.Status, journal.Blocked) // set aside for a person
		is.Equal(run.LeaseOwner, "")
		last := entries[len(entries)-1]
		is.Equal(last.Kind, journal.RunBlocked)
		is.Equal(last.Status, journal.Running) // what it was
		is.True(run.Error != "")
		is.Equal(run.Error, last.Error)
	}
	is.True(strings.Contains(mustLoad(t, store, "bad-00").Error, "not registered"))
	is.True(strings.Contains(mustLoad(t, store, "bad-01").Error, "definition changed"))
	is.True(strings.Contains(mustLoad(t, store, "bad-02").Error, "decoded"))
	n, err := worker.Recover(ctx, 16)
	is.NoErr(err)
	is.Equal(n, 0) // set aside: never claimed again on their own
}

// A blocked run moves on with a request once a worker that can drive it
// carries the request out: it is driven from the status it had.
func TestBlockedRunResumed(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	ctx := context.Background()
	var c calls
	crashRun(t, store, orderSaga(&c, saga.Idempotent()), 1, &Order{})
	clk.advance(2 * ttl)
	old := durable.NewEngine(store, durable.WithOwner("old")) // a worker without the saga
	_, err := old.Recover(ctx, 0)
	is.True(errors.Is(err, durable.ErrUnknownSaga))
	is.Equal(mustLoad(t, store, "run-c").Status, journal.Blocked)

	// A request a worker still cannot carry out is refused; the run stays
	// blocked and is not claimed again.
	_, err = old.Resume(ctx, "run-c", "try again")
	is.True(errors.Is(err, durable.ErrUnknownSaga))
	is.Equal(mustLoad(t, store, "run-c").Status, journal.Blocked)
	is.Equal(mustLoad(t, store, "run-c").Request, journal.Request{})

	e := durable.NewEngine(store, durable.WithOwner("new"))
	_, _ = durable.Register(e, orderSaga(&c, saga.Idempotent()))
	_, err = e.Resume(ctx, "run-c", "deployed the order saga")
	is.NoErr(err)
	is.Equal(mustLoad(t, store, "run-c").Status, journal.Succeeded)
	is.Equal(c.get("charge"), 2) // run again: its outcome was unknown
	is.Equal(c.get("reserve"), 1)
}

func mustLoad(t *testing.T, store journal.Store, id string) journal.Run {
	t.Helper()
	run, _, err := store.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// A blocked run that a request moves on is unfinished again in the
// journal at once: if its new driver dies, recovery finds it.
func TestBlockedRunResumedThenCrashed(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	ctx := context.Background()
	var c calls
	crashRun(t, store, orderSaga(&c, saga.Idempotent()), 1, &Order{})
	clk.advance(2 * ttl)
	_, _ = durable.NewEngine(store, durable.WithOwner("old")).Recover(ctx, 0) // sets it aside
	is.Equal(mustLoad(t, store, "run-c").Status, journal.Blocked)

	// The request is carried out (one write), then the process dies.
	dying := durable.NewEngine(crashAfter(store, 1), durable.WithOwner("dying"), durable.WithLeaseTTL(ttl))
	_, _ = durable.Register(dying, orderSaga(&c, saga.Idempotent()))
	_, err := dying.Resume(ctx, "run-c", "deployed the order saga")
	is.True(errors.Is(err, errCrash))
	is.Equal(mustLoad(t, store, "run-c").Status, journal.Running) // not blocked any more

	clk.advance(2 * ttl)
	worker := durable.NewEngine(store, durable.WithOwner("worker"))
	_, _ = durable.Register(worker, orderSaga(&c, saga.Idempotent()))
	n, err := worker.Recover(ctx, 0)
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(mustLoad(t, store, "run-c").Status, journal.Succeeded)
}

// A run set aside reports why; one that could not be set aside (its
// write failed) says so too, and stays as it was for another worker.
func TestSetAsideReportsItsWrite(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	clk := newClock()
	store := journal.NewMemory(journal.WithClock(clk.now))
	for _, id := range []string{"ghost-1", "ghost-2"} {
		is.NoErr(store.Create(ctx, journal.Run{ID: id, Saga: "ghost", Status: journal.Running, State: []byte(`{}`)},
			journal.Entry{Kind: journal.RunStarted}))
	}

	broken := durable.NewEngine(crashAfter(store, 0), durable.WithOwner("broken"), durable.WithLeaseTTL(ttl), durable.WithConcurrency(1))
	n, err := broken.Recover(ctx, 1)
	is.Equal(n, 1)
	is.True(errors.Is(err, durable.ErrUnknownSaga))
	is.True(errors.Is(err, errCrash))
	is.True(strings.Contains(err.Error(), "could not be set aside"))
	is.Equal(mustLoad(t, store, "ghost-1").Status, journal.Running) // as it was

	clk.advance(2 * ttl)
	worker := durable.NewEngine(store, durable.WithOwner("worker"), durable.WithLeaseTTL(ttl), durable.WithConcurrency(1))
	n, err = worker.Recover(ctx, 1)
	is.Equal(n, 1)
	is.True(errors.Is(err, durable.ErrUnknownSaga))
	is.True(!strings.Contains(err.Error(), "could not be set aside"))
	is.Equal(mustLoad(t, store, "ghost-1").Status, journal.Blocked)
}

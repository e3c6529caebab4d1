//go:build unix

package crashtest

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// childEnv carries the child's plan, as JSON; the child runs only when it
// is set.
const childEnv = "SAGAKIT_CRASH_CHILD"

// plan is what the parent asks of a child.
type plan struct {
	Dir string // holds the ledger, and the journal unless Store names one
	// Store is the journal; the zero Store is the SQLite file in Dir
	// (see plan.store).
	Store  fleetStore
	Policy durable.CrashPolicy // the definition's crash policy
	Kill   point               // where the child dies
	// Phase is what the child does: "" runs the orders; pausePhase and
	// resumePhase are the two processes of the pause scenarios.
	Phase phase
	// Saga is the saga whose runs the child makes: "" the orders, or
	// fanoutSaga the trips (fanout_test.go).
	Saga string
}

func (p plan) journal() string { return filepath.Join(p.Dir, "journal.db") }
func (p plan) ledger() string  { return filepath.Join(p.Dir, "ledger") }

// store returns the journal of plan p: p.Store, or the SQLite file
// p.journal() if p.Store is zero (the tests that journal to SQLite only).
func (p plan) store() fleetStore {
	if p.Store.Kind == "" {
		return fleetStore{Kind: sqliteStore, Path: p.journal()}
	}
	return p.Store
}

// where names a kind of point at which the child can die.
type where string

const (
	beforeWrite    where = "before_write" // before the run's Nth journal write (Create or Append)
	afterWrite     where = "after_write"  // after the run's Nth journal write returned
	inStep         where = "step"         // after the step's effect, before the action returns
	inCompensation where = "compensation" // after the step's undo, before the compensation returns
	atRandom       where = "random"       // at one of all the above, chosen by Seed
)

const (
	// randomPoints bounds the point atRandom picks: a child passes 129
	// points if it does not die (writes twice each, effects once each).
	randomPoints = 125
	noCrash      = 3               // the child's exit code when it did not die
	childOwner   = "crash-child/1" // the child engine's lease owner
)

// point is where the child kills itself.
type point struct {
	Where where
	Run   string // for all but atRandom
	N     int    // the run's write, counted from 1, for beforeWrite and afterWrite
	Step  string // for inStep and inCompensation
	Seed  uint64 // for atRandom
}

// killer kills the process with SIGKILL when it reaches its point. A nil
// killer never does (the parent's saga).
type killer struct {
	p      point
	at     int // for atRandom: the point to die at, counted from 1
	mu     sync.Mutex
	passed int            // points passed, for atRandom
	writes map[string]int // journal writes begun, by run
}

func newKiller(p point) *killer {
	k := &killer{p: p, writes: map[string]int{}}
	if p.Where == atRandom {
		k.at = 1 + rand.New(rand.NewPCG(p.Seed, 0)).IntN(randomPoints)
	}
	return k
}

// hit passes a point: w for run's step (or, for writes, run's write).
func (k *killer) hit(w where, run, step string) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.passed++
	n := 0
	switch w {
	case beforeWrite:
		k.writes[run]++
		n = k.writes[run]
	case afterWrite:
		n = k.writes[run]
	}
	if k.p.Where == atRandom && k.passed == k.at ||
		k.p.Where == w && k.p.Run == run && k.p.N == n && k.p.Step == step {
		// Hold k.mu: nothing else passes a point on the way out.
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute) // the signal is on its way
	}
}

// crashingStore is a journal.Store that passes the killer's points around
// each journal write.
type crashingStore struct {
	journal.Store
	k *killer
}

func (s crashingStore) Create(ctx context.Context, run journal.Run, entries ...journal.Entry) error {
	s.k.hit(beforeWrite, run.ID, "")
	err := s.Store.Create(ctx, run, entries...)
	if err == nil {
		s.k.hit(afterWrite, run.ID, "")
	}
	return err
}

func (s crashingStore) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	s.k.hit(beforeWrite, runID, "")
	err := s.Store.Append(ctx, runID, owner, u, entries...)
	if err == nil {
		s.k.hit(afterWrite, runID, "")
	}
	return err
}

// TestChild is the child process of the crash tests. It runs only when
// the parent sets childEnv; it never returns normally but dies at its plan's
// point, or exits with code noCrash if it ran every order without dying.
// A plan with a Phase makes it one of the processes of the pause
// scenarios instead (see pause_test.go).
func TestChild(t *testing.T) {
	env := os.Getenv(childEnv)
	if env == "" {
		t.Skip("crashtest: runs only as the child process of a crash test")
	}
	var p plan
	if err := json.Unmarshal([]byte(env), &p); err != nil {
		t.Fatalf("child: plan: %v", err)
	}
	ctx := context.Background()
	store, err := openFleetStore(ctx, p.store())
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	l, err := openLedger(p.ledger())
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	switch p.Phase {
	case pausePhase:
		pauseChild(ctx, t, p, store, l)
	case resumePhase:
		resumeChild(ctx, t, p, store, l)
	}
	if p.Saga == fanoutSaga {
		fanoutChild(ctx, t, p, store, l)
	}
	k := newKiller(p.Kill)
	engine := durable.NewEngine(crashingStore{store, k}, durable.WithOwner(childOwner))
	def, err := durable.Register(engine, newSaga(l, k, nil), durable.OnCrash(p.Policy))
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	run := func(i int) error {
		o := order{FailAt: orders[i].failAt}
		_, err := def.Run(saga.WithRunID(ctx, orders[i].id), &o)
		if err != nil && o.FailAt == "" {
			return err // a planned failure is the run's outcome
		}
		return nil
	}
	for i := range sequential {
		if err := run(i); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	var g errgroup.Group
	for i := sequential; i < len(orders); i++ {
		g.Go(func() error { return run(i) })
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	os.Exit(noCrash)
}

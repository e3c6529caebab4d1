//go:build unix

package crashtest

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
)

// Two operators' requests on one run, in the two orders TestConcurrentVerbs
// finds by chance, made deterministic by a store that holds one engine up
// at a chosen call. The journal keeps one pending request per run
// (journal.Run.Request): Store.Request replaces a pending request, and
// carrying one out clears whatever is pending (Update.ClearRequest). So
// a request made while another is pending, or being carried out, is
// neither carried out nor refused, while its caller is told it was
// carried out (nil) or that it "stays recorded for the next worker"
// (journal.ErrLeaseLost). The operator verbs' contract (durable/operator.go)
// says otherwise: a verb returns nil when it did what was asked, and a
// request recorded while another worker drives the run is carried out,
// or refused, once that worker lets the run go.

// hookedStore calls its hooks around some of a store's calls.
type hookedStore struct {
	journal.Store
	beforeAcquire func()
	afterRequest  func()
	afterLoad     func()
}

func (s hookedStore) Acquire(ctx context.Context, runID, owner string, ttl time.Duration) (journal.Run, error) {
	if s.beforeAcquire != nil {
		s.beforeAcquire()
	}
	return s.Store.Acquire(ctx, runID, owner, ttl)
}

func (s hookedStore) Request(ctx context.Context, runID string, r journal.Request) error {
	err := s.Store.Request(ctx, runID, r)
	if s.afterRequest != nil {
		s.afterRequest()
	}
	return err
}

func (s hookedStore) Load(ctx context.Context, runID string) (journal.Run, []journal.Entry, error) {
	run, entries, err := s.Store.Load(ctx, runID)
	if s.afterLoad != nil {
		s.afterLoad()
	}
	return run, entries, err
}

// pausedRun makes a run of the crash saga paused at send_invoice, its
// cause fixed since, on a SQLite journal in dir; it returns the store and
// the ledger.
func pausedRun(t *testing.T, p plan, id string) (journal.Store, *ledger) {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, p.journal())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	l, err := openLedger(p.ledger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := os.WriteFile(p.flag(), []byte("send_invoice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := durable.NewEngine(store, durable.WithOwner("setup"))
	def := pauseDef(t, e, p, l, nil)
	if rep, err := def.Run(saga.WithRunID(ctx, id), &order{}); rep.Status != saga.StatusPaused {
		t.Fatalf("%s: %s (%v), want paused", id, rep.Status, err)
	}
	if err := os.Remove(p.flag()); err != nil {
		t.Fatal(err)
	}
	return store, l
}

// operatorEngine returns an engine named owner on store, with the pause
// saga registered.
func operatorEngine(t *testing.T, p plan, store journal.Store, l *ledger, owner string) *durable.Engine {
	e := durable.NewEngine(store, durable.WithOwner(owner))
	pauseDef(t, e, p, l, nil)
	return e
}

// unanswered returns the notes of the run's requests that the journal
// shows neither carried out nor refused.
func unanswered(t *testing.T, store journal.Store, id string) ([]string, *durable.View) {
	t.Helper()
	v, err := durable.Inspect(t.Context(), store, id)
	if err != nil {
		t.Fatal(err)
	}
	views := map[string]*durable.View{id: v}
	var out []string
	for note, f := range requestFates(t, views, map[string]string{id: dump(v)}) {
		if f.carried+f.refused != 1 {
			out = append(out, note)
		}
	}
	return out, v
}

// A second request made before the first operator's engine took the
// lease is refused (a run holds one pending request at a time), records
// nothing, and the first operator's engine carries out its own request.
func TestRacingRequestRefused(t *testing.T) {
	p := plan{Dir: t.TempDir()}
	store, l := pausedRun(t, p, "race-1")
	aRequested, bDone := make(chan struct{}), make(chan struct{})
	a := operatorEngine(t, p, hookedStore{Store: store, beforeAcquire: func() { close(aRequested); <-bDone }}, l, "operator-a")
	b := operatorEngine(t, p, store, l, "operator-b")
	errA := make(chan error, 1)
	go func() {
		_, err := a.Resume(t.Context(), "race-1", "resume: the invoice service is back")
		errA <- err
	}()
	<-aRequested
	_, errB := b.Compensate(t.Context(), "race-1", "compensate: the customer cancelled")
	close(bDone)
	if !errors.Is(errB, journal.ErrPending) {
		t.Errorf("Compensate while a Resume is pending: %v, want journal.ErrPending", errB)
	}
	if err := <-errA; err != nil {
		t.Errorf("Resume: %v", err)
	}
	lost, v := unanswered(t, store, "race-1")
	if v.Run.Status != journal.Succeeded {
		t.Errorf("run %s, want succeeded: the resume was carried out", v.Run.Status)
	}
	for _, e := range v.Entries {
		if strings.HasPrefix(e.Note, "compensate:") {
			t.Errorf("the refused request left an entry: %+v", e)
		}
	}
	if len(lost) > 0 {
		t.Errorf("requests neither carried out nor refused: %q", lost)
	}
	if t.Failed() {
		t.Logf("journal:\n%s", dump(v))
	}
}

// A request made while another operator's engine is about to carry out
// its own is refused as well: the pending one is never cleared unseen.
func TestRequestWhileAnotherIsCarriedOut(t *testing.T) {
	p := plan{Dir: t.TempDir()}
	store, l := pausedRun(t, p, "race-2")
	aLoaded, bDone := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var requested atomic.Bool // the Load that follows a's request, not the one deciding it
	a := operatorEngine(t, p, hookedStore{Store: store, afterRequest: func() { requested.Store(true) }, afterLoad: func() {
		if requested.Load() {
			once.Do(func() { close(aLoaded); <-bDone })
		}
	}}, l, "operator-a")
	b := operatorEngine(t, p, store, l, "operator-b")
	done := make(chan error, 1)
	go func() {
		_, err := a.Resume(t.Context(), "race-2", "resume: the invoice service is back")
		done <- err
	}()
	<-aLoaded
	_, errB := b.Compensate(t.Context(), "race-2", "compensate: the customer cancelled")
	close(bDone)
	if !errors.Is(errB, journal.ErrPending) {
		t.Errorf("Compensate while another request is carried out: %v, want journal.ErrPending", errB)
	}
	if err := <-done; err != nil {
		t.Fatalf("Resume: %v", err)
	}
	// Nothing is left for the next worker.
	w := operatorEngine(t, p, store, l, "worker")
	if n, err := w.Recover(t.Context(), 0); err != nil || n != 0 {
		t.Fatalf("recover: %d runs, %v", n, err)
	}
	lost, v := unanswered(t, store, "race-2")
	if len(lost) > 0 {
		t.Errorf("requests neither carried out nor refused: %q\njournal:\n%s", lost, dump(v))
	}
}

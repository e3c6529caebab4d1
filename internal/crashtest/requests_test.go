//go:build unix

package crashtest

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
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
// lease replaces the first: the first operator's engine then carries out
// the second's request, and its verb returns nil as if it had done what
// it asked.
func TestRacingRequestReplacesAnother(t *testing.T) {
	p := plan{Dir: t.TempDir()}
	store, l := pausedRun(t, p, "race-1")
	var aRequested, bRequested, aDone = make(chan struct{}), make(chan struct{}), make(chan struct{})
	a := operatorEngine(t, p, hookedStore{Store: store, beforeAcquire: func() { close(aRequested); <-bRequested }}, l, "operator-a")
	b := operatorEngine(t, p, hookedStore{Store: store, beforeAcquire: func() { close(bRequested); <-aDone }}, l, "operator-b")
	var repA *saga.Report
	var errA error
	go func() {
		defer close(aDone)
		repA, errA = a.Resume(t.Context(), "race-1", "resume: the invoice service is back")
	}()
	<-aRequested
	_, errB := b.Compensate(t.Context(), "race-1", "compensate: the customer cancelled")
	<-aDone
	lost, v := unanswered(t, store, "race-1")
	if repA != nil {
		t.Logf("Resume returned %v, its report says %s; Compensate returned %v", errA, repA.Status, errB)
	}
	if errA == nil && v.Run.Status != journal.Succeeded {
		t.Errorf("Resume returned nil, but the run is %s: its engine carried out another operator's request", v.Run.Status)
	}
	if len(lost) > 0 {
		t.Errorf("requests neither carried out nor refused: %q", lost)
	}
	if t.Failed() {
		t.Logf("journal:\n%s", dump(v))
	}
}

// A request made while another operator's engine carries one out is
// cleared when that engine records its own as carried out: the second
// operator was told its request stays recorded for the next worker, but
// no worker ever sees it.
func TestRequestClearedByAnother(t *testing.T) {
	p := plan{Dir: t.TempDir()}
	store, l := pausedRun(t, p, "race-2")
	var aLoaded, bRequested = make(chan struct{}), make(chan struct{})
	var once sync.Once
	a := operatorEngine(t, p, hookedStore{Store: store, afterLoad: func() {
		once.Do(func() { close(aLoaded); <-bRequested })
	}}, l, "operator-a")
	b := operatorEngine(t, p, hookedStore{Store: store, afterRequest: func() { close(bRequested) }}, l, "operator-b")
	done := make(chan error, 1)
	go func() {
		_, err := a.Resume(t.Context(), "race-2", "resume: the invoice service is back")
		done <- err
	}()
	<-aLoaded
	_, errB := b.Compensate(t.Context(), "race-2", "compensate: the customer cancelled")
	if !errors.Is(errB, journal.ErrLeaseLost) || !strings.Contains(errB.Error(), "stays recorded") {
		t.Fatalf("Compensate while another engine drives the run: %v, want journal.ErrLeaseLost", errB)
	}
	if err := <-done; err != nil {
		t.Fatalf("Resume: %v", err)
	}
	// The next worker carries out, or refuses, what is pending.
	w := operatorEngine(t, p, store, l, "worker")
	if _, err := w.Recover(t.Context(), 0); err != nil {
		t.Fatalf("recover: %v", err)
	}
	lost, v := unanswered(t, store, "race-2")
	if len(lost) > 0 {
		t.Errorf("requests neither carried out nor refused: %q\njournal:\n%s", lost, dump(v))
	}
}

package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// testClock is a settable clock safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// park sets run id, leased to owner, waiting for w, and releases it.
func park(t *testing.T, s *sqlite.Store, id, owner string, w journal.WaitFor) {
	t.Helper()
	ctx := t.Context()
	err := s.Append(ctx, id, owner, journal.Update{Status: journal.Waiting, Wait: &w},
		journal.Entry{Kind: journal.StepWaiting, Step: "pay", Attempt: 1, Note: w.Event})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, id, owner); err != nil {
		t.Fatal(err)
	}
}

func claimIDs(t *testing.T, s *sqlite.Store, owner string) []string {
	t.Helper()
	runs, err := s.Claim(t.Context(), owner, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	return ids
}

// TestMigrateFromVersion2 opens a file of schema version 2 with runs in
// it: the store migrates it in place, the runs keep what they had and
// have no wait, and they can wait and be signalled.
func TestMigrateFromVersion2(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "journal.db")
	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	for i := range 2 {
		_, err = db.Exec(sqlite.Migration(i))
		is.NoErr(err)
	}
	_, err = db.Exec(`PRAGMA user_version = 2`)
	is.NoErr(err)
	_, err = db.Exec(`INSERT INTO runs VALUES
		('run-1', 'order', 'fp', 'running', NULL, '', '', '', '', '', 1, 1, 0, '', 0),
		('run-2', 'order', 'fp', 'paused', x'7b7d', 'boom', '', '', '', '', 2, 2, 0, '', 0)`)
	is.NoErr(err)
	_, err = db.Exec(`INSERT INTO entries VALUES ('run-1', 1, 'run_started', '', 0, 0, '', NULL, '', '', '', 1)`)
	is.NoErr(err)
	is.NoErr(db.Close())

	clk := newTestClock()
	s := open(t, path, sqlite.WithClock(clk.now))
	defer s.Close()
	r2, _, err := s.Load(ctx, "run-2")
	is.NoErr(err)
	is.Equal(r2.Status, journal.Paused)
	is.Equal(r2.Error, "boom")
	is.Equal(r2.Wait, journal.Wait{})

	is.Equal(claimIDs(t, s, "w1"), []string{"run-1"})
	park(t, s, "run-1", "w1", journal.WaitFor{Event: "paid", For: time.Hour})
	is.Equal(claimIDs(t, s, "w1"), []string{})
	ok, err := s.Signal(ctx, "run-1", journal.Signal{Event: "paid", Delivery: "d"})
	is.NoErr(err)
	is.True(ok)
	is.Equal(claimIDs(t, s, "w1"), []string{"run-1"})
	_, es, err := s.Load(ctx, "run-1")
	is.NoErr(err)
	is.Equal(len(es), 2)
	is.Equal(es[1].Seq, int64(2))

	db, err = sql.Open("sqlite", path)
	is.NoErr(err)
	defer db.Close()
	var v int
	is.NoErr(db.QueryRow("PRAGMA user_version").Scan(&v))
	is.Equal(v, sqlite.SchemaVersion)
}

// TestClaimPlan checks that Claim's query finds its runs through the
// claim indexes, not by scanning every run.
func TestClaimPlan(t *testing.T) {
	_, db := rawJournal(t)
	rows, err := db.Query("EXPLAIN QUERY PLAN "+sqlite.ClaimSQL, "w", 1, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(plan, "\n")
	for _, want := range []string{"USING INDEX runs_claim", "USING INDEX runs_due"} {
		if !strings.Contains(all, want) {
			t.Errorf("the plan does not use %q:\n%s", want, all)
		}
	}
	for _, line := range plan {
		if strings.HasPrefix(line, "SCAN runs") && !strings.Contains(line, "INDEX") {
			t.Errorf("the plan scans runs: %q:\n%s", line, all)
		}
	}
}

// TestClaimWaitingOrder checks that woken, due and other runs come
// oldest first together, up to n, a run both woken and due once.
func TestClaimWaitingOrder(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	clk := newTestClock()
	s := open(t, filepath.Join(t.TempDir(), "journal.db"), sqlite.WithClock(clk.now))
	defer s.Close()
	create := func(id string, st journal.Status) {
		is.NoErr(s.Create(ctx, journal.Run{ID: id, Status: st, LeaseOwner: "w0", LeaseExpiry: clk.now().Add(time.Hour)}))
		clk.advance(time.Millisecond)
	}
	create("a-due", journal.Running)
	create("b-waiting", journal.Running)
	create("c-running", journal.Running)
	create("d-woken", journal.Running)
	create("e-both", journal.Running)
	create("f-far", journal.Running)
	park(t, s, "a-due", "w0", journal.WaitFor{For: time.Minute})
	park(t, s, "b-waiting", "w0", journal.WaitFor{Event: "x"})
	is.NoErr(s.Release(ctx, "c-running", "w0"))
	park(t, s, "d-woken", "w0", journal.WaitFor{Event: "x", For: time.Hour})
	park(t, s, "e-both", "w0", journal.WaitFor{For: time.Minute})
	park(t, s, "f-far", "w0", journal.WaitFor{For: 24 * time.Hour})
	for _, id := range []string{"d-woken", "e-both"} {
		_, err := s.Signal(ctx, id, journal.Signal{Event: "x"})
		is.NoErr(err)
	}
	clk.advance(time.Minute)

	runs, err := s.Claim(ctx, "w1", time.Minute, 3)
	is.NoErr(err)
	is.Equal(len(runs), 3)
	is.Equal([]string{runs[0].ID, runs[1].ID, runs[2].ID}, []string{"a-due", "c-running", "d-woken"})
	is.True(runs[0].Wait.Due)
	is.True(runs[2].Wait.Woken)
	is.Equal(claimIDs(t, s, "w2"), []string{"e-both"})
	is.Equal(claimIDs(t, s, "w3"), []string{})
}

// TestSignalWakes checks that a signal that wakes a run wakes the store's
// workers. A wake-up fired before the listener subscribed is lost (as
// the contract allows), so the test tries again on a fresh run.
func TestSignalWakes(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "journal.db"))
	defer s.Close()
	wake := s.Wakeups(ctx)
	for i := range 10 {
		id := fmt.Sprint("r", i)
		err := s.Create(ctx, journal.Run{ID: id, Status: journal.Running, LeaseOwner: "w", LeaseExpiry: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		park(t, s, id, "w", journal.WaitFor{Event: "paid"})
		time.Sleep(10 * time.Millisecond) // the release's wake-up, and the listener subscribing again
		select {
		case <-wake:
		default:
		}
		if _, err := s.Signal(ctx, id, journal.Signal{Event: "paid"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-wake:
			return
		case <-time.After(time.Second):
		}
	}
	t.Fatal("no wake-up after signals woke runs")
}

// TestConsume checks that an Append consumes only its own run's signals,
// and that Updates carrying only Consume or Wait move Updated.
func TestConsume(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	clk := newTestClock()
	s := open(t, filepath.Join(t.TempDir(), "journal.db"), sqlite.WithClock(clk.now))
	defer s.Close()
	for _, id := range []string{"r1", "r2"} {
		is.NoErr(s.Create(ctx, journal.Run{ID: id, Status: journal.Running, LeaseOwner: "w", LeaseExpiry: clk.now().Add(time.Hour)}))
		_, err := s.Signal(ctx, id, journal.Signal{Event: "paid", Payload: []byte(id)})
		is.NoErr(err)
	}
	s2, err := s.Signals(ctx, "r2")
	is.NoErr(err)
	is.Equal(len(s2), 1)

	clk.advance(time.Second)
	is.NoErr(s.Append(ctx, "r1", "w", journal.Update{Consume: []int64{s2[0].ID}}))
	r1, _, err := s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(r1.Updated, clk.now()) // Consume alone is not an empty Update
	got, err := s.Signals(ctx, "r2")
	is.NoErr(err)
	is.Equal(len(got), 1) // r2's signal is r2's to consume

	// A Wait without status Waiting changes nothing but Updated.
	clk.advance(time.Second)
	is.NoErr(s.Append(ctx, "r1", "w", journal.Update{Wait: &journal.WaitFor{Event: "paid"}}))
	r1, _, err = s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(r1.Updated, clk.now())
	is.Equal(r1.Status, journal.Running)
	is.Equal(r1.Wait, journal.Wait{})

	// Consuming and parking at once: the consumed signal does not wake.
	s1, err := s.Signals(ctx, "r1")
	is.NoErr(err)
	is.Equal(len(s1), 1)
	is.NoErr(s.Append(ctx, "r1", "w", journal.Update{Status: journal.Waiting,
		Wait: &journal.WaitFor{Event: "paid"}, Consume: []int64{s1[0].ID}}))
	r1, _, err = s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(r1.Wait, journal.Wait{Event: "paid"})

	// An empty Update leaves Updated.
	before := r1.Updated
	clk.advance(time.Second)
	is.NoErr(s.Append(ctx, "r1", "w", journal.Update{}, journal.Entry{Kind: journal.StepStarted}))
	r1, _, err = s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(r1.Updated, before)

	// Acquire returns the wait, Due on the store's clock.
	is.NoErr(s.Append(ctx, "r1", "w", journal.Update{Status: journal.Waiting,
		Wait: &journal.WaitFor{Event: "paid", For: time.Minute}}))
	is.NoErr(s.Release(ctx, "r1", "w"))
	clk.advance(time.Minute)
	r1, err = s.Acquire(ctx, "r1", "w", time.Minute)
	is.NoErr(err)
	is.Equal(r1.Wait, journal.Wait{Event: "paid", Until: clk.now(), Due: true})
}

// TestSignalBatch checks that signals and parks queued together commit as
// one batch with the outcomes they would have one by one: a signal sent
// after the park in the batch wakes the run, refused signals fail alone.
func TestSignalBatch(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "journal.db"))
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	is.NoErr(s.Create(ctx, journal.Run{ID: "r1", Status: journal.Running, LeaseOwner: "w", LeaseExpiry: exp}))
	is.NoErr(s.Create(ctx, journal.Run{ID: "r2", Status: journal.Running, LeaseOwner: "w", LeaseExpiry: exp}))
	is.NoErr(s.Create(ctx, journal.Run{ID: "done", Status: journal.Succeeded}))

	c0, _ := s.Commits()
	resume := s.Stall()
	var wg sync.WaitGroup
	errs := make([]error, 5)
	recorded := make([]bool, 5)
	queue := func(i int, fn func() (bool, error)) {
		wg.Go(func() { recorded[i], errs[i] = fn() })
		s.AwaitQueued(i + 1)
	}
	queue(0, func() (bool, error) {
		return true, s.Append(ctx, "r1", "w", journal.Update{Status: journal.Waiting, Wait: &journal.WaitFor{Event: "paid"}})
	})
	queue(1, func() (bool, error) { return s.Signal(ctx, "r1", journal.Signal{Event: "paid", Delivery: "d1"}) })
	queue(2, func() (bool, error) { return s.Signal(ctx, "r1", journal.Signal{Event: "paid", Delivery: "d1"}) })
	queue(3, func() (bool, error) { return s.Signal(ctx, "nope", journal.Signal{Event: "paid"}) })
	queue(4, func() (bool, error) { return s.Signal(ctx, "done", journal.Signal{Event: "paid"}) })
	resume()
	wg.Wait()
	c1, _ := s.Commits()
	is.Equal(c1-c0, int64(1)) // the stall's transaction takes the five ops
	is.NoErr(errs[0])
	is.NoErr(errs[1])
	is.True(recorded[1])
	is.NoErr(errs[2])
	is.True(!recorded[2]) // the same delivery, once
	is.True(errors.Is(errs[3], journal.ErrNotFound))
	is.True(errors.Is(errs[4], journal.ErrFinal))

	r1, _, err := s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(r1.Wait, journal.Wait{Event: "paid", Woken: true})
	sigs, err := s.Signals(ctx, "r1")
	is.NoErr(err)
	is.Equal(len(sigs), 1)
	sigs, err = s.Signals(ctx, "done")
	is.NoErr(err)
	is.Equal(len(sigs), 0)
}

// TestSignalOtherProcess checks that a signal sent through another Store
// on the file (another process: sagactl, a webhook handler) wakes a run
// this one parked.
func TestSignalOtherProcess(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "journal.db")
	a := open(t, path)
	defer a.Close()
	b := open(t, path)
	defer b.Close()
	is.NoErr(a.Create(ctx, journal.Run{ID: "r", Status: journal.Running, LeaseOwner: "w", LeaseExpiry: time.Now().Add(time.Hour)}))
	park(t, a, "r", "w", journal.WaitFor{Event: "paid"})
	is.Equal(claimIDs(t, a, "w"), []string{})
	for i := range 3 {
		ok, err := b.Signal(ctx, "r", journal.Signal{Event: "paid", Delivery: fmt.Sprint("d", i%2)})
		is.NoErr(err)
		is.Equal(ok, i < 2)
	}
	is.Equal(claimIDs(t, a, "w"), []string{"r"})
	sigs, err := a.Signals(ctx, "r")
	is.NoErr(err)
	is.Equal(len(sigs), 2)
	is.NoErr(a.Append(ctx, "r", "w", journal.Update{Status: journal.Running, Consume: []int64{sigs[0].ID, sigs[1].ID}}))
	sigs, err = b.Signals(ctx, "r")
	is.NoErr(err)
	is.Equal(len(sigs), 0)
}

// TestCreateWaiting checks that a run created waiting keeps its wait, and
// a run created in another status has none.
func TestCreateWaiting(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	clk := newTestClock()
	s := open(t, filepath.Join(t.TempDir(), "journal.db"), sqlite.WithClock(clk.now))
	defer s.Close()
	until := clk.now().Add(time.Minute)
	is.NoErr(s.Create(ctx, journal.Run{ID: "w", Status: journal.Waiting, Wait: journal.Wait{Event: "paid", Until: until}}))
	is.NoErr(s.Create(ctx, journal.Run{ID: "p", Status: journal.Paused, Wait: journal.Wait{Event: "paid", Until: until}}))
	r, _, err := s.Load(ctx, "w")
	is.NoErr(err)
	is.Equal(r.Wait, journal.Wait{Event: "paid", Until: until})
	r, _, err = s.Load(ctx, "p")
	is.NoErr(err)
	is.Equal(r.Wait, journal.Wait{})
	clk.advance(time.Minute)
	is.Equal(claimIDs(t, s, "w1"), []string{"w"})
}

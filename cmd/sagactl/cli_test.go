package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/runview"
)

func TestListGolden(t *testing.T) {
	store := shopJournal(t)
	golden(t, "list.txt", ok(t, store, "--now", now, "list"))
	golden(t, "list-waiting.txt", ok(t, store, "--now", now, "list", "--status", "waiting"))
	golden(t, "list-stopped.txt", ok(t, store, "--now", now, "list", "--status", "paused,compensated", "--saga", "order"))
	golden(t, "list.json", ok(t, store, "--now", now, "list", "--json", "--limit", "2"))
	golden(t, "list-since.txt", ok(t, store, "--now", now, "list", "--since", "58m"))
}

func TestListLimitAndEmpty(t *testing.T) {
	is := is.New(t)
	store := shopJournal(t)
	var rows []runview.Row
	is.NoErr(json.Unmarshal([]byte(ok(t, store, "list", "--json", "--limit", "1")), &rows))
	is.Equal(len(rows), 1)
	is.Equal(rows[0].ID, "payment-4001") // newest first
	is.Equal(ok(t, store, "list", "--saga", "nope"), "no runs\n")
}

func TestColorOnlyWhenAsked(t *testing.T) {
	is := is.New(t)
	store := shopJournal(t)
	is.True(!strings.Contains(ok(t, store, "list"), "\x1b[")) // piped: no color
	is.True(strings.Contains(ok(t, store, "list", "--color", "always"), "\x1b[32msucceeded\x1b[0m"))
	r := sagactl(t, []string{"NO_COLOR=1"}, store, "list")
	is.True(!strings.Contains(r.stdout, "\x1b["))
}

func TestInspectGolden(t *testing.T) {
	store := shopJournal(t)
	for _, id := range []string{"order-1001", "order-1002", "transfer-3001", "trip-2001", "payment-4001"} {
		golden(t, "inspect-"+id+".txt", ok(t, store, "inspect", id))
	}
	golden(t, "inspect-transfer-3001-entries.txt", ok(t, store, "inspect", "transfer", "--entries"))
	golden(t, "inspect-trip-2001.json", ok(t, store, "inspect", "trip-2001", "--json"))
}

func TestInspectShowsEveryStepOfThePlan(t *testing.T) {
	is := is.New(t)
	var r runview.Run
	is.NoErr(json.Unmarshal([]byte(ok(t, shopJournal(t), "inspect", "--json", "order-1002")), &r))
	is.Equal(r.Status, journal.Compensated)
	is.True(r.Planned)
	var got []string
	for _, s := range r.Steps {
		got = append(got, s.Name+":"+s.Status)
	}
	is.Equal(got, []string{"reserve_stock:compensated", "charge_card:failed", "ship:pending", "email:pending"})
}

func TestGraphGolden(t *testing.T) {
	store := shopJournal(t)
	golden(t, "graph-order.mmd", ok(t, store, "graph", "order"))
	golden(t, "graph-order.dot", ok(t, store, "graph", "order", "--format", "dot"))
	golden(t, "graph-trip-2001.mmd", ok(t, store, "graph", "trip-2001"))
	golden(t, "graph-trip-2001.dot", ok(t, store, "graph", "trip-2001", "--format=dot"))
	golden(t, "graph-transfer-3001.mmd", ok(t, store, "graph", "transfer-"))
	golden(t, "graph-trip.json", ok(t, store, "graph", "trip", "--json"))
}

func TestTimelineGolden(t *testing.T) {
	store := shopJournal(t)
	golden(t, "timeline-trip-2001.txt", ok(t, store, "timeline", "trip-2001"))
	golden(t, "timeline-trip-2001.mmd", ok(t, store, "timeline", "trip-2001", "--format", "mermaid"))
	golden(t, "timeline-order-1002.txt", ok(t, store, "timeline", "order-1002", "--width", "30"))
	golden(t, "timeline-payment-4001.json", ok(t, store, "timeline", "payment-4001", "--json"))
}

// badInput runs sagactl and checks it failed with code, one line on
// stderr containing want, and nothing on stdout.
func badInput(t *testing.T, code int, want string, env []string, args ...string) result {
	t.Helper()
	r := sagactl(t, env, args...)
	if r.code != code {
		t.Errorf("sagactl %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), r.code, code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("sagactl %s: wrote %q to stdout", strings.Join(args, " "), r.stdout)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "sagactl: ") || strings.Contains(r.stderr, "goroutine ") || len(lines) > 2 {
		t.Errorf("sagactl %s: stderr is not a one-line error: %q", strings.Join(args, " "), r.stderr)
	}
	if !strings.Contains(lines[0], want) {
		t.Errorf("sagactl %s: stderr %q does not say %q", strings.Join(args, " "), r.stderr, want)
	}
	return r
}

func TestBadStores(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	missing := dir + "/missing.db"
	badInput(t, exitStore, "no such file", nil, "--store", "sqlite:"+missing, "list")
	_, err := os.Stat(missing)
	is.True(os.IsNotExist(err)) // not created

	text := dir + "/notes.txt"
	is.NoErr(os.WriteFile(text, []byte("not a database at all, just some text"), 0o644))
	badInput(t, exitStore, "not a SQLite database", nil, "--store", "sqlite:"+text, "list")
	empty := dir + "/empty.db"
	is.NoErr(os.WriteFile(empty, nil, 0o644))
	badInput(t, exitStore, "is empty", nil, "--store", "sqlite:"+empty, "list")
	badInput(t, exitStore, "is a directory", nil, "--store", "sqlite:"+dir, "list")

	// A SQLite database that is not a journal is left as it is.
	other := dir + "/other.db"
	db := openRaw(t, other)
	_, err = db.Exec(`CREATE TABLE t (x)`)
	is.NoErr(err)
	db.Close()
	badInput(t, exitStore, "not a sagakit journal", nil, "--store", "sqlite:"+other, "inspect", "x")
	db = openRaw(t, other)
	var n int
	is.NoErr(db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table'`).Scan(&n))
	db.Close()
	is.Equal(n, 1)

	// A journal of a newer schema.
	path, _, store := freshJournal(t)
	is.NoErr(store.Close())
	db = openRaw(t, path)
	_, err = db.Exec(`PRAGMA user_version = 99`)
	is.NoErr(err)
	db.Close()
	badInput(t, exitStore, "newer than this code knows", nil, "--store", "sqlite:"+path, "list")

	badInput(t, exitUsage, "no store", nil, "list")
	badInput(t, exitUsage, "want sqlite:PATH or postgres://", nil, "--store", "mysql://x", "list")
	badInput(t, exitUsage, "want sqlite:PATH or postgres://", []string{"SAGAKIT_STORE=journal.db"}, "list")

	// A bad DSN, and an unreachable server: the password never shows.
	r := badInput(t, exitStore, "postgres", nil, "--store", "postgres://ops:hunter2@127.0.0.1:1/db?connect_timeout=2", "list")
	is.True(!strings.Contains(r.stderr, "hunter2"))
	r = badInput(t, exitStore, "", []string{"SAGAKIT_STORE=postgres://ops:hunter2@[::1/db"}, "list")
	is.True(!strings.Contains(r.stderr, "hunter2"))
	r = badInput(t, exitStore, "", nil, "--store", "postgres://ops:hunter2@127.0.0.1:1/db?sslmode=bogus", "list")
	is.True(!strings.Contains(r.stderr, "hunter2"))
}

func TestBadInput(t *testing.T) {
	store := shopJournal(t)
	badInput(t, exitUsage, `run ID prefix "order-100" matches 2 runs: order-1001, order-1002`, nil, store, "inspect", "order-100")
	badInput(t, exitUsage, "matches 2 runs", nil, store, "timeline", "order")
	badInput(t, exitNotFound, `no run "order-9"`, nil, store, "inspect", "order-9")
	badInput(t, exitNotFound, `no saga or run "nope"`, nil, store, "graph", "nope")
	badInput(t, exitNotFound, `run transfer-3001 has no step "wire" (its steps: debit, credit)`, nil, store, "retry", "transfer-3001", "wire")
	badInput(t, exitBadState, "run order-1001 has succeeded: there is nothing to resume", nil, store, "resume", "order-1001")
	badInput(t, exitBadState, "run order-1002 has been compensated: there is nothing to abandon", nil, store, "abandon", "order-1002", "--note", "x")
	badInput(t, exitBadState, `run payment-4001 waits for "payment-confirmed": signal it`, nil, store, "resume", "payment-4001")
	badInput(t, exitBadState, "run order-1001 has succeeded: no step will take the event", nil, store, "signal", "order-1001", "payment-confirmed")
	badInput(t, exitUsage, "resolve needs --note", nil, store, "resolve", "transfer-3001")
	badInput(t, exitUsage, "--data is not JSON", nil, store, "signal", "payment-4001", "payment-confirmed", "--data", "{oops")
	badInput(t, exitUsage, `--status "done": want one of`, nil, store, "list", "--status", "done")
	badInput(t, exitUsage, "--since", nil, store, "list", "--since", "yesterday")
	badInput(t, exitUsage, "--format must be mermaid or dot", nil, store, "graph", "order", "--format", "png")
	badInput(t, exitUsage, "unknown flag: --frobnicate", nil, store, "list", "--frobnicate")
	badInput(t, exitUsage, "unknown command", nil, store, "frobnicate")
	badInput(t, exitUsage, "inspect takes one run ID", nil, store, "inspect")
	badInput(t, exitUsage, "retry takes a run ID and a step's name", nil, store, "retry", "transfer-3001")
}

// --wait gives up after --timeout when no worker takes the request,
// which stays recorded.
func TestWaitTimeout(t *testing.T) {
	path, _, _ := freshJournal(t)
	badInput(t, exitBadState, "gave up after 200ms: no worker has taken the resume request on run transfer-3001 yet",
		nil, "--store=sqlite:"+path, "resume", "transfer-3001", "--wait", "--timeout", "200ms")
}

func TestHelpDocumentsExitCodes(t *testing.T) {
	is := is.New(t)
	for _, c := range []string{"list", "inspect", "graph", "timeline", "resume", "retry", "compensate", "resolve", "abandon", "signal"} {
		out := ok(t, c, "--help")
		is.True(strings.Contains(out, "Exit codes:"))
		is.True(strings.Contains(out, "4  store unreachable"))
	}
}

// A resume recorded by sagactl is carried out by a worker of the
// process that has the saga: the test's.
func TestResumeIsCarriedOutByAWorker(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	path, s, _ := freshJournal(t)
	store := "--store=sqlite:" + path

	out := ok(t, store, "resume", "transfer-3001", "--note", "the bank is back")
	is.Equal(out, "Resume requested for run transfer-3001: the next worker carries it out (sagactl inspect transfer-3001, or --wait, to follow it)\n")
	var r runview.Run
	is.NoErr(json.Unmarshal([]byte(ok(t, store, "inspect", "transfer-3001", "--json")), &r))
	is.Equal(r.Status, journal.Paused)
	is.Equal(r.Request.Verb, journal.Resume)
	badInput(t, exitBadState, "has a resume request pending", nil, store, "compensate", "transfer-3001")

	n, err := s.engine.Recover(ctx, 0)
	is.NoErr(err)
	is.Equal(n, 1)
	r = runview.Run{}
	is.NoErr(json.Unmarshal([]byte(ok(t, store, "inspect", "transfer-3001", "--json")), &r))
	is.Equal(r.Status, journal.Succeeded)
	is.Equal(r.Request, nil)
	is.Equal(len(r.Notes), 2)
	is.Equal(r.Notes[0].Event, "requested")
	is.Equal(r.Notes[1].Event, "carried_out")
	is.Equal(r.Notes[1].Text, "the bank is back")
	credit, _ := r.Step("credit")
	is.Equal(credit.Executions, 2)
	is.Equal(credit.Status, "succeeded")
}

// sagactl resume --wait follows the run while a worker carries the
// request out, and exits 0 once the run succeeded.
func TestResumeWait(t *testing.T) {
	is := is.New(t)
	path, s, _ := freshJournal(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	worker := make(chan error, 1)
	go func() { worker <- s.engine.Work(ctx, 20_000_000) }() // 20ms: the request comes from another process

	var v verbJSON
	out := ok(t, "--store=sqlite:"+path, "resume", "transfer-3001", "--note", "bank is back", "--wait", "--json", "--timeout", "20s")
	is.NoErr(json.Unmarshal([]byte(out), &v))
	is.Equal(v.Status, journal.Succeeded)
	is.True(*v.Good)
	is.True(v.Waited)
	cancel()
	<-worker
}

// --wait exits 1 when the run does not end well: the bank is still down.
func TestResumeWaitRunStopsAgain(t *testing.T) {
	is := is.New(t)
	path, s, _ := freshJournal(t)
	s.bank.down = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	worker := make(chan error, 1)
	go func() { worker <- s.engine.Work(ctx, 20_000_000) }()
	r := sagactl(t, nil, "--store=sqlite:"+path, "retry", "transfer-3001", "credit", "--note", "try again", "--wait")
	is.Equal(r.code, exitBadState)
	is.True(strings.Contains(r.stdout, "run transfer-3001 is paused"))
	is.True(strings.Contains(r.stdout, "bank unreachable"))
	is.Equal(r.stderr, "sagactl: run transfer-3001 is paused, not succeeded\n")
	cancel()
	<-worker
}

// A signal sent by sagactl wakes the waiting run, which a worker carries
// on; resolve and abandon need no saga code.
func TestSignalAndSettle(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	path, s, _ := freshJournal(t)
	store := "--store=sqlite:" + path
	is.Equal(ok(t, store, "signal", "payment-4001", "payment-confirmed", "--data", `"pay-77"`, "--delivery", "wh-1"),
		"Event \"payment-confirmed\" recorded for run payment-4001\n")
	is.Equal(ok(t, store, "signal", "payment-4001", "payment-confirmed", "--data", `"pay-77"`, "--delivery", "wh-1"),
		"Delivery wh-1 of event \"payment-confirmed\" was recorded for run payment-4001 before: nothing changed\n")
	_, err := s.engine.Recover(ctx, 0)
	is.NoErr(err)
	var r runview.Run
	is.NoErr(json.Unmarshal([]byte(ok(t, store, "inspect", "payment-4001", "--json")), &r))
	is.Equal(r.Status, journal.Succeeded)
	var st Order
	is.NoErr(json.Unmarshal(r.State, &st))
	is.Equal(st, Order{Number: "4001", Stock: "shelf-9", Payment: "pay-77"})

	ok(t, store, "abandon", "transfer-3001", "--note", "customer withdrew")
	_, err = s.engine.Recover(ctx, 0)
	is.NoErr(err)
	is.NoErr(json.Unmarshal([]byte(ok(t, store, "inspect", "transfer-3001", "--json")), &r))
	is.Equal(r.Status, journal.Abandoned)
	is.Equal(r.Notes[len(r.Notes)-1].Text, "customer withdrew")
}

var newestEntry = regexp.MustCompile(`(?m)^journal +\d+ entries, the newest is (\d+)`)

// newestOf returns the newest entry's number as sagactl inspect prints it.
func newestOf(t *testing.T, store, id string) string {
	t.Helper()
	m := newestEntry.FindStringSubmatch(ok(t, store, "inspect", id))
	if m == nil {
		t.Fatalf("sagactl inspect %s prints no newest entry", id)
	}
	return m[1]
}

// An operator reads a paused run and decides to resume it; meanwhile
// another resumes it, and it pauses again: the first operator's resume,
// given --seen, is refused and records nothing. Decided anew on the run
// as it is, it is recorded.
func TestSeenRefusesAStaleRequest(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	path, s, _ := freshJournal(t)
	store := "--store=sqlite:" + path
	seen := newestOf(t, store, "transfer-3001")
	is.Equal(seen, "6")

	ok(t, store, "resume", "transfer-3001", "--note", "the other operator")
	s.bank.mu.Lock()
	s.bank.down = true
	s.bank.mu.Unlock()
	_, err := s.engine.Recover(ctx, 0)
	is.NoErr(err)
	now := newestOf(t, store, "transfer-3001")
	is.True(now != seen)

	badInput(t, exitBadState, "run transfer-3001 changed since entry 6 (now at "+now+"): inspect it again and decide anew",
		nil, store, "resume", "transfer-3001", "--seen", seen)
	badInput(t, exitUsage, "--seen 99: run transfer-3001 has no entry 99 (its newest is "+now+")", nil, store, "retry", "transfer-3001", "credit", "--seen", "99")
	badInput(t, exitUsage, "--seen must be a journal entry's number", nil, store, "compensate", "transfer-3001", "--seen", "-1")
	badInput(t, exitUsage, "invalid argument", nil, store, "compensate", "transfer-3001", "--seen", "six")
	is.Equal(newestOf(t, store, "transfer-3001"), now) // nothing recorded
	var r runview.Run
	is.NoErr(json.Unmarshal([]byte(ok(t, store, "inspect", "transfer-3001", "--json")), &r))
	is.Equal(r.Status, journal.Paused)
	is.Equal(r.Request, nil)

	ok(t, store, "compensate", "transfer-3001", "--seen", now, "--note", "the bank stays down")
	is.NoErr(json.Unmarshal([]byte(ok(t, store, "inspect", "transfer-3001", "--json")), &r))
	is.Equal(r.Request.Verb, journal.Compensate)
}

// racingStore carries the run on between sagactl's checks and its
// request, as a worker may: the store refuses the request.
type racingStore struct{ journal.Store }

func (s racingStore) Request(ctx context.Context, runID string, r journal.Request) error {
	if _, err := s.Acquire(ctx, runID, "racer", time.Minute); err != nil {
		return err
	}
	e := journal.Entry{Kind: journal.StepStarted, Step: "credit", Attempt: 2, At: time.Now()}
	if err := s.Append(ctx, runID, "racer", journal.Update{Status: journal.Running, Release: true}, e); err != nil {
		return err
	}
	return s.Store.Request(ctx, runID, r)
}

func TestSeenStaleAtTheStore(t *testing.T) {
	is := is.New(t)
	_, _, store := freshJournal(t)
	a := &app{store: racingStore{store}}
	_, err := a.request(context.Background(), "transfer-3001", verbs[0], journal.Request{Verb: journal.Resume, Seen: 6})
	var xe *exitError
	is.True(errors.As(err, &xe))
	is.Equal(xe.code, exitBadState)
	is.Equal(err.Error(), "run transfer-3001 changed since entry 6 (now at 7): inspect it again and decide anew")
	run, _, err := store.Load(context.Background(), "transfer-3001")
	is.NoErr(err)
	is.Equal(run.Request, journal.Request{})
}

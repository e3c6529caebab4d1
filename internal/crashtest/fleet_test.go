//go:build unix

package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// The machinery of the tests that run several live processes at once on
// one journal (zombie_test.go, verbs_test.go): workers and operators that
// are not planned to die at a point, but are frozen, signalled and raced
// against each other. TestFleetChild is their entry point, selected by
// childEnv as TestChild is; each process writes what it sees into an
// event log of its own, and the participant (participant_test.go) keeps
// what it did to the outside world.

// role is what a fleet process does.
type role string

const (
	zombieRole     role = "zombie"      // zombie_test.go: drives runs, is frozen
	takerRole      role = "taker"       // zombie_test.go: takes the frozen runs over
	verbWorkerRole role = "verb_worker" // verbs_test.go: live runs and Engine.Work
	operatorRole   role = "operator"    // verbs_test.go: fires operator verbs
)

// fleetPlan is what the parent asks of a fleet process.
type fleetPlan struct {
	Role  role
	Dir   string        // holds the journal, the participant and the event logs
	Owner string        // the engine's lease owner; also names the event log
	TTL   time.Duration // the engine's lease TTL
	Step  time.Duration // how long this process's steps take
	Runs  []string      // runs this process starts
	Calls []verbCall    // operatorRole: the verbs it fires
}

func (p fleetPlan) journal() string     { return filepath.Join(p.Dir, "journal.db") }
func (p fleetPlan) participant() string { return filepath.Join(p.Dir, "participant.db") }
func (p fleetPlan) events() string      { return eventsPath(p.Dir, p.Owner) }
func (p fleetPlan) barrier() string     { return filepath.Join(p.Dir, "barrier") }
func (p fleetPlan) broken() string      { return filepath.Join(p.Dir, "broken") }

func eventsPath(dir, owner string) string { return filepath.Join(dir, "events-"+owner+".jsonl") }

// TestFleetChild is a process of the fleet tests. It runs only when the
// parent sets childEnv and selects it; it exits with code noCrash when its
// role is done.
func TestFleetChild(t *testing.T) {
	env := os.Getenv(childEnv)
	if env == "" {
		t.Skip("crashtest: runs only as a process of a fleet test")
	}
	var p fleetPlan
	if err := json.Unmarshal([]byte(env), &p); err != nil || p.Role == "" {
		t.Fatalf("fleet child: plan %q: %v", env, err)
	}
	ctx := context.Background()
	ev, err := openEvents(p.events())
	if err != nil {
		t.Fatalf("fleet child: %v", err)
	}
	store, err := sqlite.Open(ctx, p.journal())
	if err != nil {
		t.Fatalf("fleet child: %v", err)
	}
	part, err := openParticipant(p.participant(), p.Owner)
	if err != nil {
		t.Fatalf("fleet child: %v", err)
	}
	rec := recordingStore{Store: store, ev: ev}
	switch p.Role {
	case zombieRole:
		zombieChild(ctx, t, p, rec, part, ev)
	case takerRole:
		takerChild(ctx, t, p, rec, part, ev)
	case verbWorkerRole:
		verbWorkerChild(ctx, t, p, rec, part, ev)
	case operatorRole:
		operatorChild(ctx, t, p, rec, part, ev)
	default:
		t.Fatalf("fleet child: unknown role %q", p.Role)
	}
	part.Close()
	store.Close()
	os.Exit(noCrash)
}

// event is a line of a fleet process's event log. T is when it was
// logged; T0, for a journal call, when the call began. Times are Unix
// nanoseconds on the machine's wall clock, which every process shares.
type event struct {
	Ev      string     `json:"ev"`
	T       int64      `json:"t"`
	T0      int64      `json:"t0,omitempty"`
	Run     string     `json:"run,omitempty"`
	Step    string     `json:"step,omitempty"`
	What    string     `json:"what,omitempty"` // an action or a compensation; a verb
	Note    string     `json:"note,omitempty"`
	OK      bool       `json:"ok,omitempty"`
	Err     string     `json:"err,omitempty"`
	Class   string     `json:"class,omitempty"` // an error's class
	Runs    []string   `json:"runs,omitempty"`
	Entries []entryRef `json:"entries,omitempty"`
	Gap     int64      `json:"gap,omitempty"` // a jump of the wall clock, in nanoseconds
	// Leases is, for a claim, the lease expiry of each run it returned;
	// for a renewal, the lease the store holds just after it returned.
	Leases []leaseSeen `json:"leases,omitempty"`
}

// leaseSeen is a run's lease as the store returned it.
type leaseSeen struct {
	Owner  string `json:"owner"`
	Expiry int64  `json:"expiry"`
}

// entryRef identifies a journal entry a process wrote: the time durable
// gave it is, to the nanosecond, its own.
type entryRef struct {
	Kind    journal.Kind `json:"kind"`
	Step    string       `json:"step,omitempty"`
	Attempt int          `json:"attempt,omitempty"`
	At      int64        `json:"at"`
}

func refOf(e journal.Entry) entryRef {
	return entryRef{Kind: e.Kind, Step: e.Step, Attempt: e.Attempt, At: e.At.UnixNano()}
}

// eventLog is a process's event log: a line per event, each in one
// write(2), so that it survives the process being killed.
type eventLog struct {
	mu sync.Mutex
	f  *os.File
}

func openEvents(path string) (*eventLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &eventLog{f: f}, nil
}

func (l *eventLog) add(e event) {
	if e.T == 0 {
		e.T = time.Now().UnixNano()
	}
	b, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		panic(err)
	}
}

// readEvents reads a process's event log; a missing log is empty.
func readEvents(t *testing.T, path string) []event {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []event
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, e)
	}
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// recordingStore is a journal.Store that logs each call and its outcome:
// which process wrote which entries, and when; which runs it claimed.
type recordingStore struct {
	journal.Store
	ev *eventLog
}

func refs(entries []journal.Entry) []entryRef {
	out := make([]entryRef, len(entries))
	for i, e := range entries {
		out[i] = refOf(e)
	}
	return out
}

func (s recordingStore) Create(ctx context.Context, run journal.Run, entries ...journal.Entry) error {
	t0 := time.Now().UnixNano()
	err := s.Store.Create(ctx, run, entries...)
	s.ev.add(event{Ev: "write", T0: t0, Run: run.ID, OK: err == nil, Err: errString(err), Entries: refs(entries)})
	return err
}

func (s recordingStore) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	t0 := time.Now().UnixNano()
	err := s.Store.Append(ctx, runID, owner, u, entries...)
	s.ev.add(event{Ev: "write", T0: t0, Run: runID, OK: err == nil, Err: errString(err), Entries: refs(entries)})
	return err
}

func (s recordingStore) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	t0 := time.Now().UnixNano()
	err := s.Store.Renew(ctx, runID, owner, ttl)
	e := event{Ev: "renew", T0: t0, Run: runID, OK: err == nil, Err: errString(err)}
	if err == nil {
		e.T = time.Now().UnixNano()
		// What the store holds now: a renewal reported but not kept
		// shows here.
		if run, _, lerr := s.Store.Load(context.WithoutCancel(ctx), runID); lerr == nil {
			e.Leases = []leaseSeen{{run.LeaseOwner, run.LeaseExpiry.UnixNano()}}
		}
	}
	s.ev.add(e)
	return err
}

func (s recordingStore) Claim(ctx context.Context, owner string, ttl time.Duration, n int) ([]journal.Run, error) {
	t0 := time.Now().UnixNano()
	runs, err := s.Store.Claim(ctx, owner, ttl, n)
	if len(runs) > 0 || err != nil {
		ids := make([]string, len(runs))
		leases := make([]leaseSeen, len(runs))
		for i, r := range runs {
			ids[i] = r.ID
			leases[i] = leaseSeen{r.LeaseOwner, r.LeaseExpiry.UnixNano()}
		}
		s.ev.add(event{Ev: "claim", T0: t0, Runs: ids, OK: err == nil, Err: errString(err), Leases: leases})
	}
	return runs, err
}

func (s recordingStore) Acquire(ctx context.Context, runID, owner string, ttl time.Duration) (journal.Run, error) {
	t0 := time.Now().UnixNano()
	run, err := s.Store.Acquire(ctx, runID, owner, ttl)
	s.ev.add(event{Ev: "acquire", T0: t0, Run: runID, OK: err == nil, Err: errString(err)})
	return run, err
}

func (s recordingStore) Request(ctx context.Context, runID string, r journal.Request) error {
	t0 := time.Now().UnixNano()
	err := s.Store.Request(ctx, runID, r)
	s.ev.add(event{Ev: "request", T0: t0, Run: runID, What: string(r.Verb), Step: r.Step, Note: r.Note, OK: err == nil, Err: errString(err)})
	return err
}

// proc is a fleet process the parent started.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  bytes.Buffer // written by exec's copying goroutines until done
	done chan struct{}
}

// startFleet starts the test binary as the fleet process of plan p. The
// process is killed when the test ends, if it has not exited by then.
func startFleet(t *testing.T, p fleetPlan) *proc {
	t.Helper()
	c := &proc{name: p.Owner}
	c.cmd, c.done = startChild(t, "TestFleetChild", p.Owner, p, &c.out)
	return c
}

// startChild starts the test binary as a child process running test, its
// plan (JSON) in childEnv, writing its output to out. The returned
// channel is closed when it has exited; it is killed when the test ends,
// if it has not exited by then.
func startChild(t *testing.T, test, owner string, plan any, out io.Writer) (*exec.Cmd, chan struct{}) {
	t.Helper()
	env, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(env))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", owner, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill() // stopped or not
			<-done
		}
	})
	return cmd, done
}

func (c *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal %v: %v", c.name, sig, err)
	}
}

// exited reports whether the process has exited.
func (c *proc) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the process to exit, and fails the test
// unless it exited with code noCrash.
func (c *proc) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Fatalf("%s did not exit within %v; its output:\n%s", c.name, timeout, c.out.String())
	}
	ws, _ := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Exited() || ws.ExitStatus() != noCrash {
		t.Fatalf("%s did not exit with code %d (%v); its output:\n%s", c.name, noCrash, c.cmd.ProcessState, c.out.String())
	}
}

// failIfExited fails the test if the process has exited before its time.
func (c *proc) failIfExited(t *testing.T) {
	t.Helper()
	if c.exited() {
		t.Fatalf("%s exited early (%v); its output:\n%s", c.name, c.cmd.ProcessState, c.out.String())
	}
}

// waitFor polls cond every few milliseconds until it holds or timeout
// passes, and reports whether it held; the processes in procs must stay
// alive meanwhile.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, procs ...*proc) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		for _, c := range procs {
			c.failIfExited(t)
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStopped waits until the kernel has stopped pid after a SIGSTOP
// (state T in /proc); where /proc is not there, it waits a little.
func waitStopped(pid int) bool {
	stat := filepath.Join("/proc", strconv.Itoa(pid), "stat")
	for range 200 {
		b, err := os.ReadFile(stat)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			return true
		}
		// pid (comm) state ...: comm may hold spaces, so look after the
		// last ')'.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't') {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// lockProbe tells whether a SQLite file's write lock is free, by taking
// it for an instant.
type lockProbe struct {
	db   *sql.DB
	path string
}

func newLockProbe(t *testing.T, path string) *lockProbe {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(300)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return &lockProbe{db: db, path: path}
}

// free reports whether the write lock could be taken within the busy
// timeout: a live process holds it for milliseconds, a frozen one for as
// long as it is frozen.
func (l *lockProbe) free(ctx context.Context) bool {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return false
	}
	_, _ = conn.ExecContext(ctx, "ROLLBACK")
	return true
}

// freeze stops c with SIGSTOP at a moment when it holds none of the
// write locks of files: a process frozen in the middle of a transaction
// would hold every other process up for as long as it is frozen, which
// is not the window under test. It returns when c was stopped for good,
// and how many tries it took.
func freeze(ctx context.Context, t *testing.T, c *proc, probes ...*lockProbe) (time.Time, int) {
	t.Helper()
	for try := 1; try <= 50; try++ {
		c.failIfExited(t)
		at := time.Now()
		c.signal(t, syscall.SIGSTOP)
		if !waitStopped(c.cmd.Process.Pid) {
			t.Fatalf("%s: not stopped after SIGSTOP", c.name)
		}
		held := ""
		for _, p := range probes {
			if !p.free(ctx) {
				held = p.path
				break
			}
		}
		if held == "" {
			return at, try
		}
		c.signal(t, syscall.SIGCONT)
		time.Sleep(time.Duration(5+try*3) * time.Millisecond)
	}
	t.Fatalf("%s: could not be frozen outside a transaction", c.name)
	return time.Time{}, 0
}

// loadAll loads the runs of ids from store.
func loadAll(ctx context.Context, t *testing.T, store journal.Store, ids []string) map[string]journal.Run {
	t.Helper()
	m := map[string]journal.Run{}
	for _, id := range ids {
		run, _, err := store.Load(ctx, id)
		if err != nil {
			t.Fatalf("load %s: %v", id, err)
		}
		m[id] = run
	}
	return m
}

// dumpEntries renders a run's journal, with the process that wrote each
// entry when writers knows it (by the entry's time).
func dumpEntries(run journal.Run, entries []journal.Entry, writers map[int64]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\tstatus %s, request %q, error %q\n", run.Status, run.Request.Verb, run.Error)
	for _, e := range entries {
		fmt.Fprintf(&b, "\t%d %s %s/%d %s %s", e.Seq, e.Kind, e.Step, e.Attempt, e.Status, e.Error)
		if e.Verb != "" || e.Note != "" {
			fmt.Fprintf(&b, " (%s %q)", e.Verb, e.Note)
		}
		if w := writers[e.At.UnixNano()]; w != "" {
			fmt.Fprintf(&b, " [by %s]", w)
		}
		b.WriteString("\n")
	}
	return b.String()
}

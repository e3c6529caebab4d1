//go:build unix

package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
)

// The chaos campaign's sagas and processes (chaos_test.go has the
// controller, chaos_check_test.go the checks).

// Roles of the campaign's processes.
const (
	chaosWorkerRole   = "worker"
	chaosOperatorRole = "operator"
)

// chaosPlan is what the controller asks of a campaign process.
type chaosPlan struct {
	Role  string
	Owner string // the engine's lease owner; names the process in the ledger
	Seed  uint64 // this process's own random choices
	Store chaosStore
	Part  string        // the participant's file
	TTL   time.Duration // the engines' lease TTL
	Conc  int           // a worker's runs at once
	Poll  time.Duration // Engine.Work's interval
	Every time.Duration // chaosOperatorRole: the mean interval between verbs
}

// chaosStore names the campaign's journal: a SQLite file, or a schema of
// a PostgreSQL database.
type chaosStore struct {
	Kind   string // sqliteStore or postgresStore
	Path   string // sqliteStore
	DSN    string // postgresStore
	Schema string // postgresStore
	// App prefixes the application_name of the processes' connections
	// to PostgreSQL (chaosApp and the controller's process ID): the
	// connections the campaign's faults terminate, and no other.
	App string
}

// chaosApp begins the application_name of every connection the
// campaign's processes make to PostgreSQL.
const chaosApp = "sagakit_chaos"

// open opens the journal for a process named owner, trying for up to a
// minute: PostgreSQL may be restarting.
func (s chaosStore) open(ctx context.Context, owner string) (journal.Store, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		var st journal.Store
		var err error
		switch s.Kind {
		case sqliteStore:
			st, err = sqlite.Open(ctx, s.Path)
		case postgresStore:
			st, err = postgres.Open(ctx, withApp(s.DSN, s.App+"_"+strings.ReplaceAll(owner, "-", "_")), postgres.WithSchema(s.Schema))
		default:
			return nil, fmt.Errorf("crashtest: unknown store %q", s.Kind)
		}
		if err == nil || time.Now().After(deadline) {
			return st, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The sagas. Each run's plan is its state: the journal carries it to
// whichever process drives the run.
const (
	seqSaga   = "chaos_seq"   // sequential, ResumeAfterCrash
	seqcSaga  = "chaos_seqc"  // the same steps, CompensateAfterCrash
	graphSaga = "chaos_graph" // a fan-out (saga.After), ResumeAfterCrash
	pauseSaga = "chaos_pause" // sequential, PauseOnFailure
)

// chaosStep is a step of a campaign saga.
type chaosStep struct {
	name       string
	idempotent bool
	after      []string
	wait       bool // where the run waits, if its plan says so
}

// chaosSteps are each saga's steps; the step that is not idempotent has
// an unknown outcome after a crash in its middle, and the run is then
// compensated (or paused, for chaos_pause).
var chaosSteps = map[string][]chaosStep{
	seqSaga: {
		{name: "reserve", idempotent: true},
		{name: "charge", idempotent: true},
		{name: "await", idempotent: true, wait: true},
		{name: "ship"},
		{name: "notify", idempotent: true},
	},
	graphSaga: {
		{name: "debit", idempotent: true},
		{name: "flight", idempotent: true, after: []string{"debit"}},
		{name: "hotel", idempotent: true, after: []string{"debit"}, wait: true},
		{name: "car", after: []string{"debit"}},
		{name: "confirm", idempotent: true, after: []string{"flight", "hotel", "car"}},
	},
	pauseSaga: {
		{name: "reserve", idempotent: true},
		{name: "charge", idempotent: true},
		{name: "ship"},
		{name: "notify", idempotent: true},
	},
}

func init() { chaosSteps[seqcSaga] = chaosSteps[seqSaga] }

// The waits a run's plan may hold.
const (
	waitAwait = "await" // durable.Await of chaosEvent
	waitSleep = "sleep" // durable.Sleep
)

const chaosEvent = "go"

// corder is a campaign run's state: its plan.
type corder struct {
	N      int
	FailAt string        // the step that fails: for good, or (chaos_pause) in its first execution only
	Wait   string        // "", waitAwait or waitSleep: at the saga's wait step
	For    time.Duration // the wait's timeout, or the sleep
	Work   time.Duration // how long each step works before its effect
}

// chaosSaga builds saga name, whose steps call part.
func chaosSaga(name string, part *participant) *saga.Saga[corder] {
	b := saga.New[corder]().Name(name)
	for _, s := range chaosSteps[name] {
		act := func(ctx context.Context, o *corder) error {
			run, key := saga.RunID(ctx), durable.IdempotencyKey(ctx)
			began := time.Now().UnixNano()
			executed := func(out string, err error) error {
				return errors.Join(err, persist(ctx, func() error { return part.chaosExecuted(run, s.name, "do", key, out, began) }))
			}
			if ctx.Err() != nil {
				return executed(deadOrStopped(ctx), context.Cause(ctx))
			}
			if o.FailAt == s.name && (name != pauseSaga || strings.HasSuffix(key, "/1")) {
				return executed(outFailed, fmt.Errorf("%s: %w", s.name, errPlanned))
			}
			if s.wait && o.Wait != "" {
				var err error
				if o.Wait == waitAwait {
					_, err = durable.Await[string](ctx, chaosEvent, o.For)
				} else {
					err = durable.Sleep(ctx, o.For)
				}
				switch {
				case errors.Is(err, saga.ErrSuspended):
					return executed(outSuspended, err)
				case err != nil:
					return executed(outTimedOut, err)
				}
			}
			t := time.NewTimer(o.Work)
			select {
			case <-ctx.Done():
				t.Stop()
				return executed(outStopped, context.Cause(ctx))
			case <-t.C:
			}
			var out string
			err := persist(ctx, func() (err error) {
				out, err = part.chaosAct(run, s.name, key, s.idempotent, began)
				return err
			})
			if err != nil {
				return err
			}
			if out == outRefused {
				return fmt.Errorf("%s: %w", s.name, errRefused)
			}
			return nil
		}
		comp := func(ctx context.Context, o *corder) error {
			run, key := saga.RunID(ctx), durable.IdempotencyKey(ctx)
			began := time.Now().UnixNano()
			if ctx.Err() != nil {
				return errors.Join(context.Cause(ctx), persist(ctx, func() error {
					return part.chaosExecuted(run, s.name, "undo", key, deadOrStopped(ctx), began)
				}))
			}
			return persist(ctx, func() error {
				_, err := part.chaosUndo(run, s.name, key, began)
				return err
			})
		}
		opts := []saga.StepOption{}
		if s.idempotent {
			opts = append(opts, saga.Idempotent())
		}
		if len(s.after) > 0 {
			opts = append(opts, saga.After(s.after...))
		}
		b.Step(s.name, act, comp, opts...)
	}
	return b.Build()
}

// deadOrStopped is the outcome of an execution whose context ctx had
// ended when it began: outDead if its driver had lost the run's lease,
// else outStopped (a sibling's failure cancelled it, say).
func deadOrStopped(ctx context.Context) string {
	if errors.Is(context.Cause(ctx), journal.ErrLeaseLost) {
		return outDead
	}
	return outStopped
}

// chaosDefs are a process's definitions of the campaign's sagas, by name.
type chaosDefs map[string]*durable.Definition[corder]

// registerChaos registers the campaign's sagas with engine.
func registerChaos(engine *durable.Engine, part *participant) (chaosDefs, error) {
	defs := chaosDefs{}
	for name, opts := range map[string][]durable.DefOption{
		seqSaga:   nil,
		seqcSaga:  {durable.OnCrash(durable.CompensateAfterCrash)},
		graphSaga: nil,
		pauseSaga: {durable.PauseOnFailure()},
	} {
		def, err := durable.Register(engine, chaosSaga(name, part), opts...)
		if err != nil {
			return nil, err
		}
		defs[name] = def
	}
	return defs, nil
}

// chaosOut is a process's report to the controller: lines on its
// standard output, a pipe, which a disk fault (RLIMIT_FSIZE bounds
// regular files only) and a SIGKILL (the lines written are in the pipe)
// leave whole.
type chaosOut struct {
	mu sync.Mutex
	w  io.Writer
}

// chaosLine is a line of a process's report.
type chaosLine struct {
	Ev     string `json:"ev"`             // "ready", "disk", "verb"
	What   string `json:"what,omitempty"` // a verb
	Run    string `json:"run,omitempty"`
	Class  string `json:"class,omitempty"` // a verb's outcome (verbClass)
	Err    string `json:"err,omitempty"`
	Limit  int64  `json:"limit,omitempty"`  // disk: RLIMIT_FSIZE in the window
	For    int64  `json:"for,omitempty"`    // disk: the window, in nanoseconds
	Failed int64  `json:"failed,omitempty"` // disk: journal calls that failed in the window
}

const chaosPrefix = "chaos-line "

func (o *chaosOut) add(l chaosLine) {
	b, err := json.Marshal(l)
	if err != nil {
		panic(err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, "%s%s\n", chaosPrefix, b)
}

// TestChaosChild is a process of the chaos campaign: a worker or the
// operator. It runs only when the controller sets childEnv and selects
// it, and exits with code noCrash once SIGTERM has stopped it.
func TestChaosChild(t *testing.T) {
	env := os.Getenv(childEnv)
	if env == "" {
		t.Skip("crashtest: runs only as a process of the chaos campaign")
	}
	var p chaosPlan
	if err := json.Unmarshal([]byte(env), &p); err != nil || p.Role == "" {
		t.Fatalf("chaos child: plan %q: %v", env, err)
	}
	// The disk faults' signal, before anything else: its default action
	// would end the process.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	signal.Ignore(syscall.SIGXFSZ)
	ctx := context.Background()
	out := &chaosOut{w: os.Stdout}
	go exitWithParent()
	store, err := p.Store.open(ctx, p.Owner)
	if err != nil {
		t.Fatalf("chaos child: %v", err)
	}
	part, err := openParticipant(p.Part, p.Owner)
	if err != nil {
		t.Fatalf("chaos child: %v", err)
	}
	wctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	switch p.Role {
	case chaosWorkerRole:
		chaosWork(wctx, t, p, store, part, out, usr1)
	case chaosOperatorRole:
		chaosOperate(wctx, t, p, store, part, out)
	default:
		t.Fatalf("chaos child: unknown role %q", p.Role)
	}
	part.Close()
	store.Close()
	os.Exit(noCrash)
}

// exitWithParent ends the process when the controller has died (its
// parent process changed): a controller that fails hard, at the test's
// timeout say, leaves no worker behind.
func exitWithParent() {
	parent := os.Getppid()
	for {
		time.Sleep(200 * time.Millisecond)
		if os.Getppid() != parent {
			os.Exit(1)
		}
	}
}

// signalingStore is what the campaign's stores implement: Engine.Work
// waits on their wake-ups and steps wait for events and timers.
type signalingStore interface {
	journal.Store
	journal.Waker
	journal.Signaler
}

// faultCounter counts the journal writes that fail while a disk fault is
// on.
type faultCounter struct {
	signalingStore
	on     *atomic.Bool
	failed *atomic.Int64
}

func (s faultCounter) count(err error) error {
	if err != nil && s.on.Load() {
		s.failed.Add(1)
	}
	return err
}

func (s faultCounter) Create(ctx context.Context, run journal.Run, entries ...journal.Entry) error {
	return s.count(s.signalingStore.Create(ctx, run, entries...))
}

func (s faultCounter) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	return s.count(s.signalingStore.Append(ctx, runID, owner, u, entries...))
}

func (s faultCounter) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	return s.count(s.signalingStore.Renew(ctx, runID, owner, ttl))
}

// chaosWork is a worker: Engine.Work until ctx ends. On SQLite, each
// SIGUSR1 opens a disk fault window (diskFaults).
func chaosWork(ctx context.Context, t *testing.T, p chaosPlan, store journal.Store, part *participant, out *chaosOut, usr1 <-chan os.Signal) {
	ss, ok := store.(signalingStore)
	if !ok {
		t.Fatalf("%s: the store %T does not wake workers or keep signals", p.Owner, store)
	}
	fc := faultCounter{signalingStore: ss, on: new(atomic.Bool), failed: new(atomic.Int64)}
	if p.Store.Kind == sqliteStore {
		go diskFaults(p, fc, out, usr1)
	}
	engine := durable.NewEngine(fc, durable.WithOwner(p.Owner), durable.WithLeaseTTL(p.TTL),
		durable.WithConcurrency(p.Conc), durable.WithLogger(slog.New(slog.DiscardHandler)))
	if _, err := registerChaos(engine, part); err != nil {
		t.Fatalf("%s: %v", p.Owner, err)
	}
	out.add(chaosLine{Ev: "ready"})
	_ = engine.Work(ctx, p.Poll)
}

// diskFaults makes the journal's disk fail: at each SIGUSR1 (usr1), the process
// lowers its own RLIMIT_FSIZE to 64 KiB (above the shared-memory index
// SQLite maps, which stays at 32 KiB) for a random window of 50 to 400
// ms, then raises it again. A write(2) of any regular file at an offset
// past the limit fails with EFBIG (SIGXFSZ is ignored): SQLite's appends
// to its write-ahead log fail (unless the log has just been rewound to
// its start), its transaction rolls back, and the store answers the
// writes of the batch with the I/O error. This is the real path of a
// full or failing disk, through modernc's VFS, SQLite's rollback and the
// store's writer, which must keep working once the disk is back; a mock
// store would test durable's handling of the error alone. (A write that
// reached the database and whose answer was lost, the other path, is
// what the PostgreSQL faults make: a connection terminated or a server
// restarted after a commit was sent.) The participant's file, in the
// same process, fails alike, and the steps retry their calls (persist).
// Each window is reported with the journal calls that failed in it.
func diskFaults(p chaosPlan, fc faultCounter, out *chaosOut, usr1 <-chan os.Signal) {
	rng := rand.New(rand.NewPCG(p.Seed, 1))
	for range usr1 {
		var old syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			out.add(chaosLine{Ev: "disk", Err: err.Error()})
			continue
		}
		const limit = 1 << 16
		d := time.Duration(50+rng.IntN(350)) * time.Millisecond
		before := fc.failed.Load()
		fc.on.Store(true)
		err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(limit), Max: old.Max})
		if err == nil {
			time.Sleep(d)
			err = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)
		}
		fc.on.Store(false)
		out.add(chaosLine{Ev: "disk", Limit: limit, For: int64(d), Failed: fc.failed.Load() - before, Err: errString(err)})
	}
}

// chaosOperate is the operator: until ctx ends, at random intervals, it
// picks a run that is not over and fires a verb at it, at most four at
// once, racing the workers: it signals a waiting run (sometimes twice,
// under one delivery ID) or compensates or abandons it; resumes a paused
// run, retries its failed step, or compensates it (a run paused on an
// unknown outcome is compensated: resuming it would run a step that is
// not idempotent again); compensates, abandons or resumes a run a worker
// is driving. Its verbs on a paused run are decided on the journal as it
// read it, and say so (durable.AsOf): another verb may have resumed the
// run since, which paused again on another cause.
func chaosOperate(ctx context.Context, t *testing.T, p chaosPlan, store journal.Store, part *participant, out *chaosOut) {
	engine := durable.NewEngine(store, durable.WithOwner(p.Owner), durable.WithLeaseTTL(p.TTL),
		durable.WithLogger(slog.New(slog.DiscardHandler)))
	if _, err := registerChaos(engine, part); err != nil {
		t.Fatalf("%s: %v", p.Owner, err)
	}
	out.add(chaosLine{Ev: "ready"})
	rng := rand.New(rand.NewPCG(p.Seed, 2))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(rng.Int64N(int64(2 * p.Every)))):
		}
		runs, err := store.List(ctx, journal.Filter{Status: []journal.Status{journal.Waiting, journal.Paused,
			journal.Running, journal.Compensating, journal.Pending}, Limit: 200})
		if err != nil || len(runs) == 0 {
			continue
		}
		r := runs[rng.IntN(len(runs))]
		var (
			verb, step string
			seen       int64 // the journal a paused run's verb was decided on
		)
		x := rng.IntN(100)
		if r.Status == journal.Paused {
			run, entries, err := store.Load(ctx, r.ID)
			if err != nil || len(entries) == 0 {
				continue
			}
			r, seen = run, entries[len(entries)-1].Seq
			step = failedIn(entries)
		}
		switch r.Status {
		case journal.Waiting:
			verb = pick(x, 80, "signal", 90, string(journal.Compensate), string(journal.Abandon))
		case journal.Paused:
			if strings.Contains(r.Error, durable.ErrOutcomeUnknown.Error()) {
				verb = pick(x, 90, string(journal.Compensate), 100, string(journal.Abandon), string(journal.Abandon))
				break
			}
			verb = pick(x, 50, string(journal.Resume), 80, string(journal.RetryStep), string(journal.Compensate))
		default:
			verb = pick(x, 70, string(journal.Compensate), 85, string(journal.Abandon), string(journal.Resume))
		}
		delivery := fmt.Sprintf("%s-%d", r.ID, rng.IntN(3))
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			err := fire(ctx, engine, r.ID, verb, step, delivery, seen)
			class := verbClass(err)
			if class == "other" && ctx.Err() != nil {
				class = "operator_stopped" // SIGTERM, at the end of the faults
			}
			out.add(chaosLine{Ev: "verb", What: verb, Run: r.ID, Class: class, Err: errString(err)})
		})
	}
}

// pick returns a if x < below, b if x < below2, else c.
func pick(x, below int, a string, below2 int, b, c string) string {
	switch {
	case x < below:
		return a
	case x < below2:
		return b
	}
	return c
}

// failedIn returns the step whose failure paused a run of entries: its
// last journal.StepFailed.
func failedIn(entries []journal.Entry) string {
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Kind == journal.StepFailed {
			return entries[i].Step
		}
	}
	return ""
}

// fire carries out verb on run with engine, decided on the run's journal
// up to entry seen (0: on whatever it holds).
func fire(ctx context.Context, engine *durable.Engine, runID, verb, step, delivery string, seen int64) error {
	note := "chaos operator: " + verb
	var opts []durable.VerbOption
	if seen != 0 {
		opts = append(opts, durable.AsOf(seen))
	}
	var err error
	switch journal.Verb(verb) {
	case journal.Resume:
		_, err = engine.Resume(ctx, runID, note, opts...)
	case journal.RetryStep:
		_, err = engine.RetryStep(ctx, runID, step, note, opts...)
	case journal.Compensate:
		_, err = engine.Compensate(ctx, runID, note, opts...)
	case journal.Abandon:
		err = engine.Abandon(ctx, runID, note, opts...)
	default:
		err = engine.Signal(ctx, runID, chaosEvent, "ok", durable.Delivery(delivery))
	}
	return err
}

package journal

import (
	"context"
	"errors"
	"time"
)

// Status is a journaled run's status.
type Status string

// Run statuses. [Pending], [Running] and [Compensating] runs are
// unfinished: a worker drives them, and claims them when they have no
// live lease (a pending run has none until a worker takes it).
// [Paused], [CompensationFailed], [Failed] and [Blocked] runs need a
// person: they stay until an operator request (see [Request]) moves them
// on.
const (
	// Pending: journaled to be run by whichever worker claims it first
	// (durable's Definition.Start), not driven yet.
	Pending            Status = "pending"
	Running            Status = "running"
	Compensating       Status = "compensating"
	Paused             Status = "paused"
	Succeeded          Status = "succeeded"
	Compensated        Status = "compensated"
	CompensationFailed Status = "compensation_failed"
	Failed             Status = "failed"
	Resolved           Status = "resolved"
	Abandoned          Status = "abandoned"
	// Blocked: a worker could not drive the run (its saga is not
	// registered, its definition changed, its state snapshot cannot be
	// decoded) and set it aside, the reason in its Error, so that it does
	// not stand in the way of other runs. A request moves it on once a
	// worker that can drive it carries the request out.
	Blocked Status = "blocked"
	// Waiting: a step waits for an event or a timer (durable's Await and
	// Sleep), the run holding no lease; Run.Wait says what for. A signal
	// it waits for, or its deadline, makes it claimable again (see
	// [Signaler]).
	Waiting Status = "waiting"
)

// Unfinished reports whether a worker still has to drive a run in s.
func (s Status) Unfinished() bool { return s == Pending || s == Running || s == Compensating }

// Phrase says s of a run, for messages: "run r-1 has succeeded", "run r-1
// is paused".
func (s Status) Phrase() string {
	switch s {
	case Succeeded:
		return "has succeeded"
	case Compensated:
		return "has been compensated"
	case CompensationFailed:
		return "has failed to compensate"
	case Failed:
		return "has failed"
	case Resolved:
		return "was resolved"
	case Abandoned:
		return "was abandoned"
	}
	return "is " + string(s)
}

// Final reports whether a run in s is over for good: no request moves it.
func (s Status) Final() bool {
	switch s {
	case Succeeded, Compensated, Resolved, Abandoned:
		return true
	}
	return false
}

// Run is a journaled run's header: what it is, where it stands, and who
// drives it.
type Run struct {
	ID          string
	Saga        string // the definition's name
	Fingerprint string // the definition's plan fingerprint
	Status      Status
	State       []byte // the latest state snapshot, encoded by the saga's codec
	Error       string // the error that stopped the run, if any
	Note        string // the last operator note
	Request     Request
	Created     time.Time
	// Updated is the last time the header changed, leases aside: the
	// store sets it to the current time in Create, in Request, and in an
	// Append whose Update is not empty. An Append with an empty Update,
	// which only adds entries (and perhaps releases the lease, see
	// Update.Release), leaves it, and so do the lease calls (Claim,
	// Acquire, Renew, Release), which change only LeaseOwner and
	// LeaseExpiry.
	Updated    time.Time
	Ended      time.Time // zero until the run ends
	LeaseOwner string    // the worker driving the run; "" when none
	// LeaseExpiry is when the lease ends, on the store's clock: for a
	// store on a database server, the server's, which callers must not
	// compare with their own time.Now.
	LeaseExpiry time.Time
	// LeaseToken fences the run's lease: the store sets it to 1 when
	// Create leases the run, and increases it with every lease Claim or
	// Acquire grants, to the same owner or another. A driver names the
	// token of its grant in each Append ([Update.Lease]), so that a write
	// it made before its lease lapsed, and that reaches the store after
	// the run was granted again, is refused even when the new lease is
	// its own owner's (a worker that re-claims a run it stopped driving).
	// Renew and Release leave it.
	LeaseToken int64
	// Wait is what a waiting run waits for; the zero Wait otherwise.
	Wait Wait
}

// Verb is an operator's request on a run.
type Verb string

// Operator verbs. The CLI records them with [Store.Request]; the next
// worker that claims the run carries them out.
const (
	Resume     Verb = "resume"     // continue forward from the failed step
	RetryStep  Verb = "retry_step" // run Request.Step again, then continue
	Compensate Verb = "compensate" // compensate now
	Resolve    Verb = "resolve"    // mark resolved by hand (no code runs)
	Abandon    Verb = "abandon"    // give up on the run (no code runs)
)

// Request is a pending operator request; the zero Request is none.
type Request struct {
	Verb Verb
	Step string // for RetryStep
	Note string
	// Seen, when not 0, is the Seq of the newest entry of the run's
	// journal its maker had read when deciding: [Store.Request] fails
	// with ErrStale, recording nothing, if the journal has gone on since
	// (the run was resumed, paused anew, or carried on by a worker), so
	// that a decision made on a run is never carried out on the run as it
	// became. 0 asks for no such check. A store does not keep it: a
	// pending request (Run.Request) has Seen 0.
	Seen int64
}

// Kind is the kind of a journal [Entry].
type Kind string

// Entry kinds.
const (
	RunStarted        Kind = "run_started" // Note: values carried with the run's context, URL-encoded (durable's WithPropagator)
	StepStarted       Kind = "step_started"
	StepSucceeded     Kind = "step_succeeded"
	StepFailed        Kind = "step_failed"
	StepCancelled     Kind = "step_cancelled"         // ended by the cancellation another step's failure caused
	StepWaiting       Kind = "step_waiting"           // the step waits; Note: the event ("" for a timer)
	WaitEnded         Kind = "wait_ended"             // a step's wait ended; Note: the event, State: its payload, Error: why it ended without one
	CompStarted       Kind = "compensation_started"   // a step's compensation starts
	CompSucceeded     Kind = "compensation_succeeded" // a step was compensated
	CompFailed        Kind = "compensation_failed"    // a step's compensation failed
	RunPaused         Kind = "run_paused"
	RunBlocked        Kind = "run_blocked" // set aside; Status: the status it had, Error: why
	RunEnded          Kind = "run_ended"
	RequestMade       Kind = "request"
	RequestCarriedOut Kind = "request_done"
)

// StateKept is the Note of a [StepSucceeded] entry whose step left the
// run's state as the newest snapshot before it holds it, byte for byte:
// the entry carries no State (an unchanged state costs the journal no
// snapshot bytes), and the run's state after the step is that snapshot.
// A StepSucceeded entry without State and without this Note records a
// step whose state could not be encoded: the journal's state is older
// than the run's effects. The snapshots are those of [RunStarted] and
// StepSucceeded entries; a [WaitEnded] entry's State is an event's
// payload, not a snapshot.
const StateKept = "state_kept"

// Entry is one record of a run's journal.
type Entry struct {
	Seq      int64 // assigned by the store: increasing within a run
	Kind     Kind
	Step     string // "" for run-level entries
	Attempt  int    // the step's execution number (stable across a crash)
	Attempts int    // retries within the execution, for ended steps
	Error    string
	State    []byte // a state snapshot, when the entry carries one
	Status   Status // for RunEnded: the final status
	Verb     Verb   // for RequestMade and RequestCarriedOut: the request's verb
	Note     string
	At       time.Time
}

// Update changes a run's header together with an [Store.Append].
type Update struct {
	Status       Status  // "" leaves it
	State        []byte  // nil leaves it
	Error        *string // nil leaves it
	Ended        bool    // sets Ended to the time of the last entry
	ClearRequest bool    // the pending request has been carried out
	// Wait, with Status [Waiting], says what the run waits for; the store
	// sets Run.Wait from it. A status other than Waiting clears Run.Wait.
	Wait *WaitFor
	// Consume marks these signals (by [Signal.ID]) consumed.
	Consume []int64
	// Lease, when not 0, is the token of the lease the writer was granted
	// ([Run.LeaseToken], as Claim or Acquire returned it, or 1 after a
	// Create that leased the run): the Append fails with ErrLeaseLost,
	// having written nothing, if the run was granted again since, even
	// to the same owner. 0 checks the owner and expiry alone.
	Lease int64
	// Release: the write ends owner's lease: after it the run is free, as
	// after [Store.Release], in the same transaction as the rest of the
	// Append (a driver's last write need not be followed by a Release of
	// its own). Like Store.Release, it leaves Updated as it is: an Update
	// whose only field set is Release counts as empty. It wakes the
	// store's listeners as Store.Release does (see [Waker]).
	Release bool
}

// Filter selects runs for [Store.List]. Zero fields select everything.
type Filter struct {
	Status        []Status
	Saga          string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	Limit         int // 0: no limit
}

// Errors stores return (wrapped or not: test with errors.Is).
var (
	ErrNotFound  = errors.New("journal: run not found")
	ErrExists    = errors.New("journal: run already exists")
	ErrLeaseLost = errors.New("journal: lease held by another worker")
	ErrFinal     = errors.New("journal: run is over")
	ErrPending   = errors.New("journal: another request is pending on the run")
	ErrStale     = errors.New("journal: the run changed since the request was decided")
	ErrClosed    = errors.New("journal: store closed")
)

// Store keeps run journals. Implementations must be safe for concurrent
// use, and an Append or Create that returned nil must survive a crash of
// the process (and, for a store with a disk, of the machine).
type Store interface {
	// Create records a new run with its first entries, leased to
	// run.LeaseOwner until run.LeaseExpiry (lease token 1; a run created
	// without a lease has token 0). It ignores run.LeaseToken. It fails with ErrExists if
	// the ID is taken. The store sets Created and Updated. LeaseExpiry is
	// given on the caller's clock; a store whose leases run on another
	// clock (a database server's) grants the lease for as long as
	// LeaseExpiry is ahead of the caller's time.Now.
	Create(ctx context.Context, run Run, entries ...Entry) error

	// Append adds entries to the journal of a run leased to owner and
	// applies u to its header, atomically. An empty u (the zero Update)
	// leaves the header as it is, Updated included; a u with any field
	// set moves Updated to now, even if it sets values the header has
	// already, except Release, which ends the lease and leaves Updated.
	// It fails with ErrNotFound, or with ErrLeaseLost when owner does not
	// hold an unexpired lease (or, with u.Lease set, not that lease),
	// having written nothing: a u with Release set fails as any other
	// does.
	Append(ctx context.Context, runID, owner string, u Update, entries ...Entry) error

	// Load returns a run's header and its whole journal, in order.
	Load(ctx context.Context, runID string) (Run, []Entry, error)

	// List returns the headers of the runs matching f, newest first.
	List(ctx context.Context, f Filter) ([]Run, error)

	// Claim leases to owner, until now+ttl, up to n runs that need a
	// worker: unfinished runs (pending, running, compensating), and runs
	// with a pending request, whose lease is free or expired, oldest
	// first. Each run is claimed by one owner at a time. Each run
	// returned carries its new LeaseToken.
	Claim(ctx context.Context, owner string, ttl time.Duration, n int) ([]Run, error)

	// Acquire leases one run to owner until now+ttl, if its lease is free
	// or expired, and returns its header. A live lease is never granted
	// again, not even to its own owner: one lease, one driver. It fails
	// with ErrNotFound, or ErrLeaseLost when the lease is live. Operator
	// verbs called as library functions use it to drive a given run at
	// once. The header returned carries the lease's new LeaseToken.
	Acquire(ctx context.Context, runID, owner string, ttl time.Duration) (Run, error)

	// Renew extends owner's lease on a run to now+ttl (a heartbeat). It
	// fails with ErrLeaseLost if owner does not hold the lease.
	Renew(ctx context.Context, runID, owner string, ttl time.Duration) error

	// Release ends owner's lease on a run; releasing a lease not held is
	// not an error.
	Release(ctx context.Context, runID, owner string) error

	// Request records an operator request on a run, with a RequestMade
	// entry carrying its note. It needs no lease. A run holds one pending
	// request at a time: Request fails with ErrPending while another is
	// pending (so that no request replaces another unseen, and the worker
	// that carries one out clears that one), with ErrFinal for a run whose
	// status is final, with ErrStale when r.Seen is set and the journal
	// has entries after it, and with ErrNotFound.
	Request(ctx context.Context, runID string, r Request) error

	// Close releases the store's resources. Calls after Close fail with
	// ErrClosed.
	Close() error
}

// Waker is implemented by stores that can tell workers at once that runs
// need one: a run was created without a lease (pending), a request was
// recorded, or a lease was released (by Release, or by an Append whose
// Update has Release set). Workers wait on it besides polling,
// which remains the fallback: a wake-up may be lost or spurious.
type Waker interface {
	// Wakeups returns a channel that receives a value soon after any of
	// those events, until ctx ends. Several events may share one value.
	Wakeups(ctx context.Context) <-chan struct{}
}

package journal

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Memory is a [Store] that keeps its journals in memory: for tests, for
// examples, and for programs that want journaled reports and leases
// without durability. Nothing survives the process.
//
// Memory is safe for concurrent use. It copies what it is given and what
// it returns, so callers never share its bytes. Times are kept in UTC
// without a monotonic reading; an [Entry] with a zero At gets the current
// time. It implements [Waker], so that workers sharing it (engines in one
// process) learn of pending runs, requests, released leases and woken
// runs at once, [Signaler] and [Planner].
// The zero Memory is not usable: call [NewMemory].
type Memory struct {
	now func() time.Time

	mu      sync.Mutex
	runs    map[string]*memRun
	closed  bool
	wake    Broadcast
	signals int64 // the last Signal.ID
	plans   map[string]Plan
}

type memRun struct {
	run     Run
	entries []Entry
	seq     int64
	signals []memSignal
}

type memSignal struct {
	Signal
	consumed bool
}

var (
	_ Store    = (*Memory)(nil)
	_ Signaler = (*Memory)(nil)
	_ Planner  = (*Memory)(nil)
)

// NewMemory returns an empty in-memory store.
func NewMemory(opts ...Option) *Memory {
	o := buildOptions(opts)
	return &Memory{now: o.now, runs: make(map[string]*memRun)}
}

// Errors for bad arguments, shared by the stores of this package.
var (
	errEmptyID    = errors.New("journal: empty run ID")
	errEmptyOwner = errors.New("journal: empty lease owner")
	errEmptyVerb  = errors.New("journal: request without a verb")
	errBadTTL     = errors.New("journal: lease duration must be positive")

	errEmptyFingerprint = errors.New("journal: plan without a fingerprint")
)

// Create implements [Store.Create].
func (m *Memory) Create(ctx context.Context, run Run, entries ...Entry) error {
	if run.ID == "" {
		return errEmptyID
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if _, ok := m.runs[run.ID]; ok {
		return fmt.Errorf("%w: %q", ErrExists, run.ID)
	}
	now := utc(m.now())
	r := &memRun{run: copyRun(run)}
	r.run.Created, r.run.Updated = now, now
	r.run.LeaseToken = 0
	if run.LeaseOwner != "" {
		r.run.LeaseToken = 1
	}
	r.append(entries, now)
	m.runs[run.ID] = r
	if run.Status.Unfinished() && run.LeaseOwner == "" {
		m.wake.Fire()
	}
	return nil
}

// Append implements [Store.Append]. An Append with an empty Update
// leaves the header, Updated included, as it is. One whose Update
// releases the lease wakes the store's listeners, as Release does.
func (m *Memory) Append(ctx context.Context, runID, owner string, u Update, entries ...Entry) error {
	if err := checkArgs(ctx, runID, owner); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, now, err := m.leased(runID, owner)
	if err != nil {
		return err
	}
	if u.Lease != 0 && u.Lease != r.run.LeaseToken {
		return fmt.Errorf("%w: run %q was leased again since lease %d", ErrLeaseLost, runID, u.Lease)
	}
	last := r.append(entries, now)
	if u.Release {
		r.run.LeaseOwner, r.run.LeaseExpiry = "", time.Time{}
		m.wake.Fire()
	}
	if u.empty() {
		return nil
	}
	h := &r.run
	if u.Status != "" {
		h.Status = u.Status
	}
	if u.State != nil {
		h.State = bytes.Clone(u.State)
	}
	if u.Error != nil {
		h.Error = *u.Error
	}
	if u.Ended {
		h.Ended = last
	}
	if u.ClearRequest {
		h.Request = Request{}
	}
	r.consume(u.Consume)
	switch {
	case u.Status == Waiting && u.Wait != nil:
		h.Wait = Wait{Event: u.Wait.Event, Until: utc(u.Wait.Until)}
		if h.Wait.Until.IsZero() && u.Wait.For > 0 {
			h.Wait.Until = now.Add(u.Wait.For)
		}
		h.Wait.Woken = r.woken(h.Wait.Event)
	case u.Status != "" && u.Status != Waiting:
		h.Wait = Wait{}
	}
	h.Updated = now
	return nil
}

// empty reports whether u leaves the header alone, the lease aside
// (Release).
func (u *Update) empty() bool {
	return u.Status == "" && u.State == nil && u.Error == nil && !u.Ended && !u.ClearRequest &&
		u.Wait == nil && len(u.Consume) == 0
}

// consume marks the signals of ids consumed.
func (r *memRun) consume(ids []int64) {
	for k := range r.signals {
		if slices.Contains(ids, r.signals[k].ID) {
			r.signals[k].consumed = true
		}
	}
}

// woken reports whether r has an unconsumed signal for event (none
// when event is "": a timer).
func (r *memRun) woken(event string) bool {
	for _, s := range r.signals {
		if !s.consumed && event != "" && s.Event == event {
			return true
		}
	}
	return false
}

// due sets the header's Wait.Due as of now.
func due(h Run, now time.Time) Run {
	h.Wait.Due = h.Status == Waiting && !h.Wait.Until.IsZero() && !now.Before(h.Wait.Until)
	return h
}

// find returns the run runID, or fails with ErrClosed or ErrNotFound.
// m.mu must be held.
func (m *Memory) find(runID string) (*memRun, error) {
	if m.closed {
		return nil, ErrClosed
	}
	r, ok := m.runs[runID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, runID)
	}
	return r, nil
}

// leased returns the run runID if owner holds an unexpired lease on it,
// and the current time. m.mu must be held.
func (m *Memory) leased(runID, owner string) (*memRun, time.Time, error) {
	r, err := m.find(runID)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := utc(m.now())
	if r.run.LeaseOwner != owner || !now.Before(r.run.LeaseExpiry) {
		return nil, time.Time{}, fmt.Errorf("%w: run %q", ErrLeaseLost, runID)
	}
	return r, now, nil
}

// append adds copies of entries to r's journal, numbering them, and
// returns the time of the last one (now if there are none).
func (r *memRun) append(entries []Entry, now time.Time) time.Time {
	last := now
	for _, e := range entries {
		e = copyEntry(e)
		r.seq++
		e.Seq = r.seq
		if e.At.IsZero() {
			e.At = now
		}
		last = e.At
		r.entries = append(r.entries, e)
	}
	return last
}

// Load implements [Store.Load].
func (m *Memory) Load(ctx context.Context, runID string) (Run, []Entry, error) {
	if err := ctx.Err(); err != nil {
		return Run{}, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.find(runID)
	if err != nil {
		return Run{}, nil, err
	}
	entries := make([]Entry, len(r.entries))
	for i, e := range r.entries {
		entries[i] = copyEntry(e)
	}
	return due(copyRun(r.run), utc(m.now())), entries, nil
}

// List implements [Store.List].
func (m *Memory) List(ctx context.Context, f Filter) ([]Run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	var runs []Run
	for _, r := range m.runs {
		h := &r.run
		switch {
		case len(f.Status) > 0 && !slices.Contains(f.Status, h.Status),
			f.Saga != "" && h.Saga != f.Saga,
			!f.CreatedAfter.IsZero() && !h.Created.After(f.CreatedAfter),
			!f.CreatedBefore.IsZero() && !h.Created.Before(f.CreatedBefore):
			continue
		}
		runs = append(runs, due(copyRun(*h), utc(m.now())))
	}
	slices.SortFunc(runs, func(a, b Run) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if f.Limit > 0 && len(runs) > f.Limit {
		runs = runs[:f.Limit]
	}
	return runs, nil
}

// Claim implements [Store.Claim]. It takes the oldest runs first.
func (m *Memory) Claim(ctx context.Context, owner string, ttl time.Duration, n int) ([]Run, error) {
	if owner == "" {
		return nil, errEmptyOwner
	}
	if ttl <= 0 {
		return nil, errBadTTL
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if n <= 0 {
		return nil, nil
	}
	now := utc(m.now())
	var free []*memRun
	for _, r := range m.runs {
		h := &r.run
		woken := h.Status == Waiting && (h.Wait.Woken || due(*h, now).Wait.Due)
		needsWorker := h.Status.Unfinished() || woken || h.Request.Verb != ""
		leaseFree := h.LeaseOwner == "" || !now.Before(h.LeaseExpiry)
		if needsWorker && leaseFree {
			free = append(free, r)
		}
	}
	slices.SortFunc(free, func(a, b *memRun) int {
		if c := a.run.Created.Compare(b.run.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.run.ID, b.run.ID)
	})
	if len(free) > n {
		free = free[:n]
	}
	runs := make([]Run, len(free))
	for i, r := range free {
		r.run.LeaseOwner, r.run.LeaseExpiry = owner, now.Add(ttl)
		r.run.LeaseToken++
		runs[i] = due(copyRun(r.run), now)
	}
	return runs, nil
}

// Acquire implements [Store.Acquire].
func (m *Memory) Acquire(ctx context.Context, runID, owner string, ttl time.Duration) (Run, error) {
	if runID == "" {
		return Run{}, errEmptyID
	}
	if owner == "" {
		return Run{}, errEmptyOwner
	}
	if ttl <= 0 {
		return Run{}, errBadTTL
	}
	if err := ctx.Err(); err != nil {
		return Run{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.find(runID)
	if err != nil {
		return Run{}, err
	}
	now := utc(m.now())
	h := &r.run
	if h.LeaseOwner != "" && now.Before(h.LeaseExpiry) {
		return Run{}, fmt.Errorf("%w: run %q is leased to %q", ErrLeaseLost, runID, h.LeaseOwner)
	}
	h.LeaseOwner, h.LeaseExpiry = owner, now.Add(ttl)
	h.LeaseToken++
	return due(copyRun(*h), now), nil
}

// Renew implements [Store.Renew]. A lease that has expired is lost, even
// if no one claimed the run since.
func (m *Memory) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	if runID == "" {
		return errEmptyID
	}
	if owner == "" {
		return errEmptyOwner
	}
	if ttl <= 0 {
		return errBadTTL
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, now, err := m.leased(runID, owner)
	if err != nil {
		return err
	}
	r.run.LeaseExpiry = now.Add(ttl)
	return nil
}

// Release implements [Store.Release]. Releasing a lease on a run that
// does not exist is not an error either.
func (m *Memory) Release(ctx context.Context, runID, owner string) error {
	if err := checkArgs(ctx, runID, owner); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if r, ok := m.runs[runID]; ok && r.run.LeaseOwner == owner {
		r.run.LeaseOwner, r.run.LeaseExpiry = "", time.Time{}
		m.wake.Fire()
	}
	return nil
}

// Request implements [Store.Request]. The RequestMade entry carries the
// request's Step and Note; the header's Note becomes the request's.
func (m *Memory) Request(ctx context.Context, runID string, req Request) error {
	if runID == "" {
		return errEmptyID
	}
	if req.Verb == "" {
		return errEmptyVerb
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.find(runID)
	if err != nil {
		return err
	}
	if r.run.Status.Final() {
		return fmt.Errorf("%w: run %q %s", ErrFinal, runID, r.run.Status.Phrase())
	}
	if p := r.run.Request; p.Verb != "" {
		return fmt.Errorf("%w: run %q has %s pending", ErrPending, runID, p.Verb)
	}
	if req.Seen != 0 && req.Seen != r.seq {
		return fmt.Errorf("%w: run %q has entries after %d, up to %d", ErrStale, runID, req.Seen, r.seq)
	}
	now := utc(m.now())
	r.append([]Entry{{Kind: RequestMade, Verb: req.Verb, Step: req.Step, Note: req.Note}}, now)
	req.Seen = 0
	r.run.Request = req
	r.run.Note = req.Note
	r.run.Updated = now
	m.wake.Fire()
	return nil
}

// Signal implements [Signaler.Signal].
func (m *Memory) Signal(ctx context.Context, runID string, sig Signal) (bool, error) {
	if runID == "" {
		return false, errEmptyID
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.find(runID)
	if err != nil {
		return false, err
	}
	if sig.Delivery != "" {
		for _, s := range r.signals {
			if s.Delivery == sig.Delivery {
				return false, nil
			}
		}
	}
	if r.run.Status.Final() {
		return false, fmt.Errorf("%w: run %q %s", ErrFinal, runID, r.run.Status.Phrase())
	}
	now := utc(m.now())
	m.signals++
	sig.ID, sig.At, sig.Payload = m.signals, now, bytes.Clone(sig.Payload)
	r.signals = append(r.signals, memSignal{Signal: sig})
	h := &r.run
	if h.Status == Waiting && !h.Wait.Woken && h.Wait.Event != "" && h.Wait.Event == sig.Event {
		h.Wait.Woken = true
		h.Updated = now
		m.wake.Fire()
	}
	return true, nil
}

// Signals implements [Signaler.Signals].
func (m *Memory) Signals(ctx context.Context, runID string) ([]Signal, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.find(runID)
	if err != nil {
		return nil, err
	}
	var out []Signal
	for _, s := range r.signals {
		if !s.consumed {
			sig := s.Signal
			sig.Payload = bytes.Clone(sig.Payload)
			out = append(out, sig)
		}
	}
	return out, nil
}

// SavePlan implements [Planner.SavePlan].
func (m *Memory) SavePlan(ctx context.Context, p Plan) error {
	if p.Fingerprint == "" {
		return errEmptyFingerprint
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if _, ok := m.plans[p.Fingerprint]; ok {
		return nil
	}
	if m.plans == nil {
		m.plans = make(map[string]Plan)
	}
	m.plans[p.Fingerprint] = copyPlan(p)
	return nil
}

// LoadPlan implements [Planner.LoadPlan].
func (m *Memory) LoadPlan(ctx context.Context, fingerprint string) (Plan, error) {
	if err := ctx.Err(); err != nil {
		return Plan{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Plan{}, ErrClosed
	}
	p, ok := m.plans[fingerprint]
	if !ok {
		return Plan{}, fmt.Errorf("%w: no plan of fingerprint %q", ErrNotFound, fingerprint)
	}
	return copyPlan(p), nil
}

func copyPlan(p Plan) Plan {
	p.Steps = slices.Clone(p.Steps)
	for i := range p.Steps {
		p.Steps[i].After = slices.Clone(p.Steps[i].After)
	}
	return p
}

// Close implements [Store.Close]: it drops every journal.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.closed = true
	m.runs = nil
	return nil
}

// utc drops t's monotonic reading and location, as a database would.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Round(0).UTC()
}

func copyRun(r Run) Run {
	r.State = bytes.Clone(r.State)
	r.Created, r.Updated, r.Ended = utc(r.Created), utc(r.Updated), utc(r.Ended)
	r.LeaseExpiry = utc(r.LeaseExpiry)
	return r
}

func copyEntry(e Entry) Entry {
	e.State = bytes.Clone(e.State)
	e.At = utc(e.At)
	return e
}

// checkArgs rejects an empty run ID or owner and an ended context.
func checkArgs(ctx context.Context, runID, owner string) error {
	if runID == "" {
		return errEmptyID
	}
	if owner == "" {
		return errEmptyOwner
	}
	return ctx.Err()
}

package journaltest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sagakit/sagakit/journal"
)

// Run checks the stores newStore returns against the contract of
// [journal.Store], one subtest per clause. newStore is called once per
// subtest and must return a new, empty store that reads the current time
// only from now; see the package documentation.
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) journal.Store) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(newHarness(t, newStore))
		})
	}
}

type testCase struct {
	name string
	fn   func(h *harness)
}

// cases lists every subtest, in the order of the contract.
var cases = []testCase{
	{"Create", testCreate},
	{"CreateExists", testCreateExists},
	{"CreateEmptyID", testCreateEmptyID},
	{"Copies", testCopies},
	{"Append", testAppend},
	{"AppendWrongOwner", testAppendWrongOwner},
	{"AppendExpiredLease", testAppendExpiredLease},
	{"AppendUnleased", testAppendUnleased},
	{"AppendNotFound", testAppendNotFound},
	{"AppendBadInput", testAppendBadInput},
	{"UpdateFields", testUpdateFields},
	{"Updated", testUpdated},
	{"UpdateEnded", testUpdateEnded},
	{"UpdateClearRequest", testUpdateClearRequest},
	{"SeqPerRun", testSeqPerRun},
	{"EntryState", testEntryState},
	{"LoadNotFound", testLoadNotFound},
	{"List", testList},
	{"ListCopies", testListCopies},
	{"ListOrder", testListOrder},
	{"Claim", testClaim},
	{"ClaimLimit", testClaimLimit},
	{"ClaimLimitOldest", testClaimLimitOldest},
	{"ClaimConcurrent", testClaimConcurrent},
	{"Acquire", testAcquire},
	{"Renew", testRenew},
	{"RenewLost", testRenewLost},
	{"Release", testRelease},
	{"LeaseBadInput", testLeaseBadInput},
	{"AppendRelease", testAppendRelease},
	{"AppendReleaseRefused", testAppendReleaseRefused},
	{"LeaseFence", testLeaseFence},
	{"Request", testRequest},
	{"RequestFinal", testRequestFinal},
	{"RequestNotFound", testRequestNotFound},
	{"RequestClaim", testRequestClaim},
	{"RequestPending", testRequestPending},
	{"RequestSeen", testRequestSeen},
	{"Wakeups", testWakeups},
	{"WaitSignal", testWaitSignal},
	{"WaitSignalFirst", testWaitSignalFirst},
	{"WaitDeadline", testWaitDeadline},
	{"WaitRelease", testWaitRelease},
	{"SignalRefused", testSignalRefused},
	{"Plans", testPlans},
	{"Close", testClose},
	{"ConcurrentAppends", testConcurrentAppends},
}

// start is the fake clock's first reading.
var start = time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.UTC)

// clock is a fake time source safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// harness is one subtest's store and clock.
type harness struct {
	t   *testing.T
	s   journal.Store
	clk *clock
}

func newHarness(t *testing.T, newStore func(*testing.T, func() time.Time) journal.Store) *harness {
	clk := &clock{}
	clk.ns.Store(start.UnixNano())
	s := newStore(t, clk.now)
	if s == nil {
		t.Fatal("journaltest: newStore returned nil")
	}
	t.Cleanup(func() { _ = s.Close() })
	return &harness{t: t, s: s, clk: clk}
}

func (h *harness) now() time.Time          { return h.clk.now() }
func (h *harness) advance(d time.Duration) { h.clk.advance(d) }

// create records a run of saga "order" in status st, leased to owner for
// ttl (no lease when owner is ""), with a RunStarted entry.
func (h *harness) create(id string, st journal.Status, owner string, ttl time.Duration) journal.Run {
	h.t.Helper()
	r := journal.Run{ID: id, Saga: "order", Fingerprint: "fp1", Status: st, State: []byte(`{"n":0}`)}
	if owner != "" {
		r.LeaseOwner, r.LeaseExpiry = owner, h.now().Add(ttl)
	}
	create := r
	if owner != "" {
		r.LeaseToken = 1 // as the store sets it
	}
	h.must(h.s.Create(h.t.Context(), create, journal.Entry{Kind: journal.RunStarted, At: h.now()}))
	r.Created, r.Updated = h.now(), h.now()
	return r
}

func (h *harness) load(id string) (journal.Run, []journal.Entry) {
	h.t.Helper()
	r, es, err := h.s.Load(h.t.Context(), id)
	h.must(err)
	return r, es
}

func (h *harness) must(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("unexpected error: %v", err)
	}
}

// wantErr fails the test unless errors.Is(err, target).
func (h *harness) wantErr(err, target error) {
	h.t.Helper()
	if !errors.Is(err, target) {
		h.t.Fatalf("got error %v, want %v", err, target)
	}
}

// wantSome fails the test if err is nil.
func (h *harness) wantSome(err error, what string) {
	h.t.Helper()
	if err == nil {
		h.t.Fatalf("%s: got no error", what)
	}
}

var cmpOpts = []cmp.Option{cmpopts.EquateEmpty()}

// diff fails the test if got and want differ.
func (h *harness) diff(what string, got, want any) {
	h.t.Helper()
	if d := cmp.Diff(want, got, cmpOpts...); d != "" {
		h.t.Fatalf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// entries checks that got has strictly increasing sequence numbers and,
// those aside, equals want.
func (h *harness) entries(got, want []journal.Entry) {
	h.t.Helper()
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			h.t.Fatalf("entry %d: Seq %d after %d, want increasing", i, got[i].Seq, got[i-1].Seq)
		}
	}
	if d := cmp.Diff(want, got, append(cmpOpts, cmpopts.IgnoreFields(journal.Entry{}, "Seq"))...); d != "" {
		h.t.Fatalf("entries mismatch (-want +got):\n%s", d)
	}
}

func ids(runs []journal.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

func runID(i int) string { return fmt.Sprintf("run-%03d", i) }

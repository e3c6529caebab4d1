package sagatest

import (
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
)

// maxPasses bounds the passes of Recover: a run claimed again and again
// is a bug to report, not to wait on forever.
const maxPasses = 100

// Recover plays the process that starts after a crash, with e as its
// engine (the sagas registered on it): it waits until the leases other
// engines hold on runs of e's store have expired, then has e recover
// runs ([durable.Engine.Recover]) until none needs a worker, and returns
// how many runs it claimed. An error of e.Recover (a run that could not
// be driven, or was set aside) is reported with t.Errorf.
//
// With a [Clock] (the one e's store reads its time from), waiting moves
// clk past the latest of those leases; with a nil clk, Recover sleeps
// until then, which inside a [testing/synctest] bubble takes no time.
// Leases of engines that still run expire as well: their runs are taken
// from them, as from a process frozen for longer than its lease.
//
// Runs that wait for an event or a timer hold no lease; Recover drives
// those that a signal has woken or whose deadline has passed.
func Recover(t testing.TB, e *durable.Engine, clk *Clock) int {
	t.Helper()
	ctx := t.Context()
	runs, err := e.Store().List(ctx, journal.Filter{})
	if err != nil {
		t.Fatalf("sagatest: list runs: %v", err)
	}
	var until time.Time // when the latest lease of another engine expires
	for _, r := range runs {
		if r.LeaseOwner != "" && r.LeaseOwner != e.Owner() && r.LeaseExpiry.After(until) {
			until = r.LeaseExpiry
		}
	}
	switch {
	case until.IsZero():
	case clk != nil:
		if d := until.Sub(clk.Now()); d >= 0 {
			clk.Advance(d + time.Nanosecond)
		}
	default:
		time.Sleep(time.Until(until) + time.Millisecond)
	}
	total := 0
	for range maxPasses {
		n, err := e.Recover(ctx, 0)
		if err != nil {
			t.Errorf("sagatest: recover: %v", err)
		}
		total += n
		if n == 0 {
			return total
		}
	}
	t.Fatalf("sagatest: recover: runs still claimed after %d passes", maxPasses)
	return total
}

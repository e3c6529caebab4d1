package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
)

// Leases live on the database's clock: a worker's own clock, however far
// off, neither lengthens nor shortens them.

// dbNow reads the database's clock.
func dbNow(t *testing.T) time.Time {
	return query[time.Time](t, `SELECT clock_timestamp()`)
}

// TestCreateLeaseOnDatabaseClock: Create keeps the lease's duration as
// the caller meant it (expiry minus the caller's now) and starts it at
// the database's now, whatever the caller's clock says.
func TestCreateLeaseOnDatabaseClock(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{time.Hour, -time.Hour, 0} {
		t.Run(skew.String(), func(t *testing.T) {
			is := is.New(t)
			ctx := t.Context()
			s := newStore(t)
			callerNow := time.Now().Add(skew)
			s.SetCallerClock(func() time.Time { return callerNow })

			before := dbNow(t)
			is.NoErr(s.Create(ctx, journal.Run{ID: "r1", Status: journal.Running,
				LeaseOwner: "w1", LeaseExpiry: callerNow.Add(30 * time.Second)}))
			after := dbNow(t)
			got, _, err := s.Load(ctx, "r1")
			is.NoErr(err)
			is.Equal(got.LeaseExpiry.Sub(got.Created), 30*time.Second) // the duration the caller meant
			if got.Created.Before(before.Truncate(time.Microsecond)) || got.Created.After(after) {
				t.Fatalf("Created %v, want the database's now, within [%v, %v]", got.Created, before, after)
			}

			// The lease is live on the database's clock: no one else gets
			// the run, and its owner still appends.
			claimed, err := s.Claim(ctx, "w2", time.Minute, 10)
			is.NoErr(err)
			is.Equal(len(claimed), 0)
			_, err = s.Acquire(ctx, "r1", "w2", time.Minute)
			is.True(errors.Is(err, journal.ErrLeaseLost))
			is.NoErr(s.Append(ctx, "r1", "w1", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"}))
		})
	}
}

// TestCreateLeaseInCallersPast: a LeaseExpiry in the caller's past makes
// a lease that has already expired on the database's clock.
func TestCreateLeaseInCallersPast(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	s := newStore(t)
	is.NoErr(s.Create(ctx, journal.Run{ID: "r1", Status: journal.Running,
		LeaseOwner: "w1", LeaseExpiry: time.Now().Add(-time.Second)}))
	is.True(errors.Is(s.Append(ctx, "r1", "w1", journal.Update{}), journal.ErrLeaseLost))
	claimed, err := s.Claim(ctx, "w2", time.Minute, 10)
	is.NoErr(err)
	is.Equal(len(claimed), 1)
	is.Equal(claimed[0].LeaseOwner, "w2")
}

// TestClaimOnDatabaseClock: Claim, Acquire and Renew take only a duration
// from the caller and start it at the database's now.
func TestClaimOnDatabaseClock(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	s := newStore(t)
	is.NoErr(s.Create(ctx, journal.Run{ID: "r1", Status: journal.Pending}))
	is.NoErr(s.Create(ctx, journal.Run{ID: "r2", Status: journal.Pending}))
	within := func(what string, expiry, before, after time.Time, ttl time.Duration) {
		t.Helper()
		if expiry.Before(before.Truncate(time.Microsecond).Add(ttl)) || expiry.After(after.Add(ttl)) {
			t.Fatalf("%s: lease until %v, want the database's now plus %v, within [%v, %v]",
				what, expiry, ttl, before.Add(ttl), after.Add(ttl))
		}
	}

	before := dbNow(t)
	claimed, err := s.Claim(ctx, "w1", time.Minute, 1)
	is.NoErr(err)
	within("Claim", claimed[0].LeaseExpiry, before, dbNow(t), time.Minute)

	before = dbNow(t)
	acquired, err := s.Acquire(ctx, "r2", "w1", 2*time.Minute)
	is.NoErr(err)
	within("Acquire", acquired.LeaseExpiry, before, dbNow(t), 2*time.Minute)

	before = dbNow(t)
	is.NoErr(s.Renew(ctx, "r2", "w1", 3*time.Minute))
	after := dbNow(t)
	got, _, err := s.Load(ctx, "r2")
	is.NoErr(err)
	within("Renew", got.LeaseExpiry, before, after, 3*time.Minute)
}

// TestFencing: once its lease has expired on the database's clock, a
// worker's Append fails and writes nothing, even before anyone else
// claimed the run; after another worker claimed it, too.
func TestFencing(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	s := newStore(t)
	is.NoErr(s.Create(ctx, journal.Run{ID: "r1", Status: journal.Running, State: []byte("s0")},
		journal.Entry{Kind: journal.RunStarted}))
	_, err := s.Acquire(ctx, "r1", "w1", 50*time.Millisecond)
	is.NoErr(err)
	before, entries, err := s.Load(ctx, "r1")
	is.NoErr(err)
	time.Sleep(150 * time.Millisecond) // the lease expires

	err = s.Append(ctx, "r1", "w1", journal.Update{Status: journal.Failed, State: []byte("s1")},
		journal.Entry{Kind: journal.StepFailed, Step: "a"})
	is.True(errors.Is(err, journal.ErrLeaseLost))
	is.True(errors.Is(s.Renew(ctx, "r1", "w1", time.Minute), journal.ErrLeaseLost))
	got, es, err := s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(got, before)
	is.Equal(len(es), len(entries))

	claimed, err := s.Claim(ctx, "w2", time.Minute, 10)
	is.NoErr(err)
	is.Equal(len(claimed), 1)
	is.True(errors.Is(s.Append(ctx, "r1", "w1", journal.Update{}, journal.Entry{Kind: journal.StepFailed}), journal.ErrLeaseLost))
	is.NoErr(s.Append(ctx, "r1", "w2", journal.Update{}, journal.Entry{Kind: journal.StepStarted, Step: "a"}))
	_, es, err = s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(len(es), len(entries)+1)
}

// TestFenceParkAndRelease: an Append that sets the run waiting and
// releases the lease takes three statements (see the package
// documentation); under a lease granted again since, to the same owner,
// none of them writes: the run keeps its status, its wait, its journal
// and its new lease.
func TestFenceParkAndRelease(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	s := newStore(t)
	is.NoErr(s.Create(ctx, journal.Run{ID: "r1", Status: journal.Running, LeaseOwner: "w1", LeaseExpiry: time.Now().Add(time.Hour)},
		journal.Entry{Kind: journal.RunStarted}))
	_, err := s.Signal(ctx, "r1", journal.Signal{Event: "paid"})
	is.NoErr(err)
	is.NoErr(s.Release(ctx, "r1", "w1"))
	r, err := s.Acquire(ctx, "r1", "w1", time.Hour)
	is.NoErr(err)
	is.Equal(r.LeaseToken, int64(2))
	before, entries, err := s.Load(ctx, "r1")
	is.NoErr(err)

	stale := journal.Update{Lease: 1, Status: journal.Waiting, Wait: &journal.WaitFor{Event: "paid"}, Release: true}
	err = s.Append(ctx, "r1", "w1", stale, journal.Entry{Kind: journal.StepWaiting, Step: "pay"})
	is.True(errors.Is(err, journal.ErrLeaseLost))
	got, es, err := s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(got, before)
	is.Equal(len(es), len(entries))

	current := stale
	current.Lease = 2
	is.NoErr(s.Append(ctx, "r1", "w1", current, journal.Entry{Kind: journal.StepWaiting, Step: "pay"}))
	got, _, err = s.Load(ctx, "r1")
	is.NoErr(err)
	is.Equal(got.Status, journal.Waiting)
	is.True(got.Wait.Woken) // the signal sent before
	is.Equal(got.LeaseOwner, "")
	is.Equal(got.LeaseToken, int64(2))
}

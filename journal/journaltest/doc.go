// Package journaltest checks a [journal.Store] implementation against the
// contract of package journal, as testing/slogtest checks a slog.Handler.
//
// # Model
//
// [Run] runs one subtest per clause of the contract: creating runs,
// appending under a lease, header updates, sequence numbers, loading,
// listing with filters, claiming (including concurrent claimers),
// acquiring, renewing and releasing leases, operator requests, closing, and
// concurrent appends (run the suite with -race). Every subtest gets a
// fresh, empty store from the function you pass.
//
// Leases expire with time, and the suite must test expiry without
// sleeping. So it owns the clock: it passes newStore a function now that
// returns the suite's fake time, which it moves forward itself. Your
// store must take the current time only from now (for Created, Updated,
// lease expiry and the check of a lease), the way [journal.WithClock]
// configures the in-memory store. The fake time starts in 2031, carries
// nanoseconds, and is safe to read from any goroutine.
//
// The suite closes every store it gets when its subtest ends (the Close
// subtest closes it itself; a second Close may fail with
// journal.ErrClosed). Register your own cleanups, such as removing
// files, with t.Cleanup in newStore.
//
// # Use
//
//	func TestConformance(t *testing.T) {
//		journaltest.Run(t, func(t *testing.T, now func() time.Time) journal.Store {
//			s, err := mystore.Open(t.Context(), filepath.Join(t.TempDir(), "j.db"), mystore.WithClock(now))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// # Where the contract is silent
//
// The suite pins down a few choices the interface leaves open, as the
// stores of this module make them:
//   - A lease is held until the instant of its expiry: at LeaseExpiry it
//     has expired, for Append, Renew, Acquire and Claim alike. Renewing an expired
//     lease fails with journal.ErrLeaseLost even if no one claimed the run.
//   - An empty run ID, an empty owner (Append, Claim, Acquire, Renew, Release) and
//     a request without a verb are errors; Append never treats "" as an
//     owner.
//   - Update.Ended with no entries sets Ended to now.
//   - Request's RequestMade entry carries the request's Step and Note, and
//     the header's Note becomes the request's note.
//   - Releasing a lease on an unknown run returns nil or journal.ErrNotFound.
//
// Times are compared with [time.Time.Equal]; nil and empty byte slices
// are treated alike.
package journaltest

package sqlite

import "time"

// An Option configures a [Store] at [Open].
type Option func(*options)

type options struct {
	now         func() time.Time
	batch       int
	readers     int
	busyTimeout time.Duration
	noMigrate   bool
}

func buildOptions(opts []Option) options {
	o := options{now: time.Now, batch: 256, readers: 4, busyTimeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o
}

// WithoutMigration opens only a journal that exists and whose schema is
// this code's, or a newer one this code works on (see the package
// documentation, "Schema"): [Open] then creates no file, migrates
// nothing and writes nothing before it has checked, and fails with a
// clear error on anything else (a missing file, a file that is not a
// journal, an older schema, a newer one that needs newer code).
// Operator tools open journals so.
func WithoutMigration() Option {
	return func(o *options) { o.noMigrate = true }
}

// WithClock makes the store read the current time from now instead of
// [time.Now]: for Created and Updated, for entries without a time, and
// for leases. A test that controls now controls lease expiry without
// sleeping. A nil now means time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithBatchSize caps how many queued writes the writer commits in one
// transaction. The default is 256; n < 1 means 1, which turns group
// commit off.
func WithBatchSize(n int) Option {
	return func(o *options) { o.batch = max(n, 1) }
}

// WithReaders sets how many connections serve Load and List at once.
// The default is 4; n < 1 means 1.
func WithReaders(n int) Option {
	return func(o *options) { o.readers = max(n, 1) }
}

// WithBusyTimeout sets how long a connection waits for a lock held by
// another process (another Store on the same file, or sagactl) before it
// fails. The default is 10s. Within one Store, writes never contend: a
// single writer makes them all. It also bounds how long [Open] keeps
// trying again a step that found the file locked; d <= 0 means no waiting
// and no second try.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

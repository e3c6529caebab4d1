package postgres

import (
	"fmt"
	"regexp"
	"time"
)

// An Option configures a [Store] at [Open] or [New].
type Option func(*options)

type options struct {
	schema         string
	now            func() time.Time // nil: the database's clock
	batch          int
	writers        int
	connectTimeout time.Duration
	timeoutSet     bool // WithConnectTimeout was given
	writeTimeout   time.Duration
	noMigrate      bool
}

// WithoutMigration opens only a schema that exists and is this code's
// version, or a newer one that this code works on: the store then
// creates and migrates nothing, and Open fails with a clear error on
// anything else (no such schema, an older version, a newer one that
// needs newer code). Operator tools open journals so, so that a mistyped schema
// name is not created.
func WithoutMigration() Option {
	return func(o *options) { o.noMigrate = true }
}

// DefaultSchema is the schema a [Store] keeps its tables in unless
// [WithSchema] names another.
const DefaultSchema = "sagakit"

func buildOptions(opts []Option) (options, error) {
	o := options{
		schema:         DefaultSchema,
		batch:          256,
		writers:        1,
		connectTimeout: 10 * time.Second,
		writeTimeout:   30 * time.Second,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if !schemaName.MatchString(o.schema) {
		return o, fmt.Errorf("postgres: bad schema name %q: want a letter or '_' then up to %d letters, digits or '_'",
			o.schema, maxSchemaLen-1)
	}
	return o, nil
}

// maxSchemaLen keeps the notification channel, "sagakit_" and the schema,
// within PostgreSQL's 63-byte limit on identifiers.
const maxSchemaLen = 55

var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,54}$`)

// WithSchema makes the store keep its tables in the named schema, which
// it creates if needed; the default is [DefaultSchema]. Stores with
// different schemas in one database are independent: separate runs,
// leases and wake-ups. The name is an identifier of letters, digits and
// '_' (not starting with a digit), at most 55 bytes; it is quoted, so
// case matters.
func WithSchema(name string) Option {
	return func(o *options) { o.schema = name }
}

// WithNow is for tests: it makes the store take the current time from
// now, which it sends to the database as a query parameter, instead of
// the database's clock. Every time the store records or compares (Created,
// Updated, entries without a time, leases and their expiry, wait
// deadlines and whether they are due, signals' At) then comes from now,
// so a test that controls now controls lease expiry and deadlines
// without sleeping, as journaltest requires. Production code must not use it:
// leases are safe across a fleet only on the database's clock. A nil now
// means the database's clock.
func WithNow(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithBatchSize caps how many queued writes a writer sends in one
// transaction (one round trip). The default is 256; n < 1 means 1, which
// turns group commit off.
func WithBatchSize(n int) Option {
	return func(o *options) { o.batch = max(n, 1) }
}

// WithWriters sets how many writer goroutines send batches, each on its
// own connection from the pool. The default, 1, makes the largest
// batches: while one is in flight, the next one fills. More writers keep
// several batches in flight, which pays when round trips are long (a
// distant server) rather than when the server's commits are the limit;
// n < 1 means 1.
func WithWriters(n int) Option {
	return func(o *options) { o.writers = max(n, 1) }
}

// WithConnectTimeout bounds how long connecting to the server may take
// (the default is 10s, or the DSN's connect_timeout if it has one, which
// this option overrides). [Open] and [New] fail with an error once it has
// passed rather than hang on a server that does not answer. A d <= 0
// means no bound but ctx's.
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) { o.connectTimeout, o.timeoutSet = d, true }
}

// WithWriteTimeout bounds one batch of writes, from taking a connection to
// the commit (the default is 30s; d <= 0 means no bound). A batch that
// times out fails every write in it; whether it committed may be unknown,
// as after any broken connection.
func WithWriteTimeout(d time.Duration) Option {
	return func(o *options) { o.writeTimeout = d }
}

package otelsaga

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sagakit/sagakit/journal"
)

// Store returns s measured: give it to durable.NewEngine in place of s,
// and the engine's journal writes and leases show in the metrics:
//
//   - saga.journal.write.duration: how long each write took to commit
//     (the run's creation, or an append of entries), which a durable step
//     waits for twice (its start and its end, the end sharing a write
//     with the next step's start);
//   - saga.journal.write.entries: the entries of each write (a store that
//     groups concurrent writes into one transaction, as SQLite and
//     PostgreSQL do, commits several writes at once);
//   - saga.lease.claimed: runs this process leased to drive them;
//   - saga.lease.lost: writes and renewals refused because the lease was
//     lost (another worker may drive the run now).
//
// The returned store has the optional interfaces of s
// ([journal.Waker], [journal.Planner], [journal.Signaler]), and no
// others.
func (t *Telemetry) Store(s journal.Store) journal.Store {
	m := &store{Store: s, t: t}
	w, isW := s.(journal.Waker)
	p, isP := s.(journal.Planner)
	g, isG := s.(journal.Signaler)
	switch {
	case isW && isP && isG:
		return struct {
			*store
			journal.Waker
			journal.Planner
			journal.Signaler
		}{m, w, p, g}
	case isW && isP:
		return struct {
			*store
			journal.Waker
			journal.Planner
		}{m, w, p}
	case isW && isG:
		return struct {
			*store
			journal.Waker
			journal.Signaler
		}{m, w, g}
	case isP && isG:
		return struct {
			*store
			journal.Planner
			journal.Signaler
		}{m, p, g}
	case isW:
		return struct {
			*store
			journal.Waker
		}{m, w}
	case isP:
		return struct {
			*store
			journal.Planner
		}{m, p}
	case isG:
		return struct {
			*store
			journal.Signaler
		}{m, g}
	}
	return m
}

// The attribute sets of the journal's measurements.
var (
	opCreate   = attrOpts(attribute.String("saga.journal.operation", "create"))
	opAppend   = attrOpts(attribute.String("saga.journal.operation", "append"))
	opRenew    = attrOpts(attribute.String("saga.journal.operation", "renew"))
	viaCreate  = attrOpts(attribute.String("saga.lease.via", "create"))
	viaClaim   = attrOpts(attribute.String("saga.lease.via", "claim"))
	viaAcquire = attrOpts(attribute.String("saga.lease.via", "acquire"))
)

type measurementOpts struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

func attrOpts(kv ...attribute.KeyValue) measurementOpts {
	return measurementOpts{add: addOpts(kv...), record: recordOpts(kv...)}
}

// store measures a journal.Store's writes and leases.
type store struct {
	journal.Store
	t *Telemetry
}

// wrote records a write of n entries that started at start.
func (s *store) wrote(ctx context.Context, op measurementOpts, start time.Time, n int, err error) {
	in := &s.t.inst
	switch {
	case err == nil:
		in.writeDuration.Record(ctx, time.Since(start).Seconds(), op.record...)
		in.writeEntries.Record(ctx, int64(n), op.record...)
	case errors.Is(err, journal.ErrLeaseLost):
		in.leaseLost.Add(ctx, 1, op.add...)
	}
}

func (s *store) Create(ctx context.Context, run journal.Run, entries ...journal.Entry) error {
	start := time.Now()
	err := s.Store.Create(ctx, run, entries...)
	s.wrote(ctx, opCreate, start, len(entries), err)
	if err == nil && run.LeaseOwner != "" {
		s.t.inst.leaseClaimed.Add(ctx, 1, viaCreate.add...) // Definition.Run leases the run it creates
	}
	return err
}

func (s *store) Append(ctx context.Context, runID, owner string, u journal.Update, entries ...journal.Entry) error {
	start := time.Now()
	err := s.Store.Append(ctx, runID, owner, u, entries...)
	s.wrote(ctx, opAppend, start, len(entries), err)
	return err
}

func (s *store) Claim(ctx context.Context, owner string, ttl time.Duration, n int) ([]journal.Run, error) {
	runs, err := s.Store.Claim(ctx, owner, ttl, n)
	if len(runs) > 0 {
		s.t.inst.leaseClaimed.Add(ctx, int64(len(runs)), viaClaim.add...)
	}
	return runs, err
}

func (s *store) Acquire(ctx context.Context, runID, owner string, ttl time.Duration) (journal.Run, error) {
	run, err := s.Store.Acquire(ctx, runID, owner, ttl)
	if err == nil {
		s.t.inst.leaseClaimed.Add(ctx, 1, viaAcquire.add...)
	}
	return run, err
}

func (s *store) Renew(ctx context.Context, runID, owner string, ttl time.Duration) error {
	err := s.Store.Renew(ctx, runID, owner, ttl)
	if errors.Is(err, journal.ErrLeaseLost) {
		s.t.inst.leaseLost.Add(ctx, 1, opRenew.add...)
	}
	return err
}

// open lists the statuses of runs that have not ended for good.
var open = []journal.Status{
	journal.Pending, journal.Running, journal.Compensating, journal.Waiting,
	journal.Paused, journal.Failed, journal.CompensationFailed, journal.Blocked,
}

// ObserveRuns makes the saga.journal.runs gauge report the runs of s that
// have not ended for good, by saga and status, each time the metrics are
// collected: pending, running, compensating and waiting runs are on their
// way; paused, failed, compensation_failed and blocked ones wait for an
// operator. Each collection lists those runs' headers (one query), so
// observe a store from one process of a fleet, not from every worker.
// Unregister the returned registration to stop.
func (t *Telemetry) ObserveRuns(s journal.Store) (metric.Registration, error) {
	type key struct {
		saga   string
		status journal.Status
	}
	return t.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		runs, err := s.List(ctx, journal.Filter{Status: open})
		if err != nil {
			return err
		}
		counts := map[key]int64{}
		for _, r := range runs {
			counts[key{r.Saga, r.Status}]++
		}
		for k, n := range counts {
			o.ObserveInt64(t.inst.runs, n, metric.WithAttributes(keySaga.String(k.saga), keyStatus.String(string(k.status))))
		}
		return nil
	}, t.inst.runs)
}

package durable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/state"
)

// Definition is a saga registered with an [Engine]: [Definition.Run]
// runs it journaled. S is the saga state type.
type Definition[S any] struct {
	e       *Engine
	sg      *saga.Saga[S]
	codec   state.Codec[S]
	pause   bool
	onCrash CrashPolicy
	graph   bool // a step declares saga.After: steps run at once
	limit   int  // steps of one run at once, <= 0: no limit
	// planSaved: the store keeps the plan (see recordPlan).
	planSaved atomic.Bool
}

// CrashPolicy says what recovery does with a run whose process died.
type CrashPolicy uint8

const (
	// ResumeAfterCrash carries the run forward from its last journaled
	// step (the default). A step that was running when the process died
	// is run again if it is [saga.Idempotent], and otherwise compensated,
	// with everything before it.
	ResumeAfterCrash CrashPolicy = iota
	// CompensateAfterCrash compensates the run (the step that was running
	// included, since it may have taken effect).
	CompensateAfterCrash
)

// DefOption configures a [Definition].
type DefOption func(*defConfig)

type defConfig struct {
	codec   any
	pause   bool
	onCrash CrashPolicy
	limit   int
}

// WithCodec encodes the saga's state with c instead of [state.JSON].
func WithCodec[S any](c state.Codec[S]) DefOption {
	return func(d *defConfig) { d.codec = c }
}

// PauseOnFailure makes a failed run stop with status paused instead of
// compensating: a person inspects it,
// fixes the cause, and resumes it from the failed step (or asks for
// compensation).
func PauseOnFailure() DefOption {
	return func(d *defConfig) { d.pause = true }
}

// Limit caps how many steps of one run of a graph saga (one whose steps
// declare [saga.After]) run at once, actions and compensations alike, as
// parallel.Limit does in memory. n <= 0 means no limit, the default.
func Limit(n int) DefOption {
	return func(d *defConfig) { d.limit = n }
}

// OnCrash sets the crash policy (default [ResumeAfterCrash]).
func OnCrash(p CrashPolicy) DefOption {
	return func(d *defConfig) { d.onCrash = p }
}

// Register makes sg durable on e under its name (see saga's
// Builder.Name), which must be unique on the engine. Runs journaled by
// another definition of the same name are resumed only if its fingerprint
// is the same.
func Register[S any](e *Engine, sg *saga.Saga[S], opts ...DefOption) (*Definition[S], error) {
	if e == nil {
		return nil, errors.New("durable: nil Engine")
	}
	if sg == nil || sg.Plan() == nil {
		return nil, errors.New("durable: Saga not built (make one with saga.New[S]()…Build())")
	}
	var cfg defConfig
	for _, o := range opts {
		o(&cfg)
	}
	d := &Definition[S]{e: e, sg: sg, codec: state.JSON[S]{}, pause: cfg.pause, onCrash: cfg.onCrash, limit: cfg.limit}
	for i := range sg.Plan().Len() {
		if len(sg.Plan().Decl(i).After) > 0 {
			d.graph = true
		}
	}
	if cfg.codec != nil {
		c, ok := cfg.codec.(state.Codec[S])
		if !ok {
			return nil, fmt.Errorf("durable: saga %q: codec %T does not encode %T", sg.Name(), cfg.codec, new(S))
		}
		d.codec = c
	}
	if err := e.register(d); err != nil {
		return nil, err
	}
	return d, nil
}

// Saga returns the registered saga.
func (d *Definition[S]) Saga() *saga.Saga[S] { return d.sg }

func (d *Definition[S]) name() string        { return d.sg.Name() }
func (d *Definition[S]) fingerprint() string { return d.sg.Plan().Fingerprint() }

// Run runs the saga over state, journaling it: before each step starts and
// after it ends, the journal records the step, its execution number, its
// outcome and a snapshot of the state (a step's end and the next step's
// start in one write). Run returns like [saga.Saga.Run]; in addition:
//
//   - the run ID comes from ctx ([saga.WithRunID]) or is generated; an ID
//     the journal has already fails with an error matching
//     [journal.ErrExists], and the existing run is left as it is;
//   - a state the codec cannot encode fails the run before any step; one
//     that cannot be encoded after a step succeeded pauses the run (see
//     [ErrStateLost]);
//   - with [PauseOnFailure], a failure stops the run with status paused;
//   - if the journal cannot be written, the run stops where it is (its
//     error says why) and stays unfinished in the journal, for recovery;
//   - if the engine cannot renew the run's lease, the running step's
//     context ends before the lease expires, the run stops without
//     writing anything more, and its error matches [journal.ErrLeaseLost]:
//     another worker will carry it on.
func (d *Definition[S]) Run(ctx context.Context, st *S) (*saga.Report, error) {
	x, err := d.sg.Start(ctx, st)
	if err != nil {
		return x.Report(), err
	}
	d.recordPlan(ctx)
	rep := x.Report()
	h, err := d.e.begin(rep.RunID)
	if err != nil {
		// This engine drives a run of that ID now: it exists.
		err = existsError{rep.RunID}
		x.Halt(err)
		rep, _ := x.Finish()
		return rep, err
	}
	h.token = 1 // the lease the run's Create grants
	snap, err := d.codec.Encode(st)
	if err != nil {
		h.end()
		x.Halt(fmt.Errorf("durable: state not journaled, no step run: %w", err))
		return x.Finish()
	}
	now := rep.Start // the journal's start is the report's
	hctx, stop, hush, live := d.e.heartbeat(context.WithoutCancel(ctx), rep.RunID, now)
	defer stop()
	dr := d.newDriver(hctx, hush, live, h, x, st, nil)
	dr.snap = snap
	// The run is created by the driver's first write, together with the
	// first step's start: one commit.
	dr.create = &journal.Run{
		ID: rep.RunID, Saga: d.name(), Fingerprint: d.fingerprint(), Status: journal.Running,
		State: snap, LeaseOwner: d.e.owner, LeaseExpiry: now.Add(d.e.ttl),
	}
	note := d.e.carrierNote(x.Context(), saga.RunInfo{Saga: d.name(), RunID: rep.RunID})
	dr.pending = append(dr.pending, journal.Entry{Kind: journal.RunStarted, State: snap, Note: note, At: now})
	rep, err = dr.forward(0)
	stop() // no renewal after the lease is released
	var exists existsError
	if errors.As(err, &exists) {
		h.end()
		return rep, exists // nothing was written, and the run of that ID is not ours
	}
	// Whatever the outcome, this engine stops driving the run: a paused
	// run waits for a request, an unfinished one (the journal failed) for
	// another worker. The run's last write released the lease, unless it
	// failed.
	h.release(ctx)
	return rep, err
}

// recordPlan saves the definition's plan in the store, once, if the store
// keeps plans (journal.Planner): tools draw and explain runs from it
// without the program. A failure is logged and tried again with the next
// run; it does not stop the run.
func (d *Definition[S]) recordPlan(ctx context.Context) {
	pl, ok := d.e.store.(journal.Planner)
	if !ok || d.planSaved.Load() {
		return
	}
	if err := pl.SavePlan(context.WithoutCancel(ctx), d.journalPlan()); err != nil {
		d.e.log(ctx, slog.LevelWarn, "plan not saved", slog.String("saga", d.name()), slog.Any("error", err))
		return
	}
	d.planSaved.Store(true)
}

// journalPlan is the definition's plan as the journal keeps it.
func (d *Definition[S]) journalPlan() journal.Plan {
	plan := d.sg.Plan()
	p := journal.Plan{Fingerprint: d.fingerprint(), Saga: d.name(), Steps: make([]journal.PlanStep, plan.Len())}
	for i := range p.Steps {
		decl := plan.Decl(i)
		p.Steps[i] = journal.PlanStep{Name: decl.Name, Kind: decl.Kind.String(), After: slices.Clone(decl.After)}
	}
	return p
}

//go:build unix

package crashtest

import (
	"context"
	"errors"
	"fmt"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/saga"
)

// order is the saga's state.
type order struct {
	FailAt string            // the step whose action fails, "" for none
	Refs   map[string]string // what each step made: its idempotency key
}

// steps are the saga's steps, in order. book_courier calls a service
// without idempotency keys: after a crash in its middle, it must be
// compensated, never run again.
var steps = []struct {
	name       string
	idempotent bool
}{
	{"reserve_stock", true},
	{"charge_card", true},
	{"book_courier", false},
	{"send_invoice", true},
	{"notify_customer", true},
}

// orders are the runs the child makes, in the order it starts them: the
// first two one after the other, then the others at once.
var orders = []struct {
	id     string
	failAt string
}{
	{"run-1", ""},
	{"run-2", "notify_customer"},
	{"run-3", ""},
	{"run-4", "notify_customer"},
	{"run-5", ""},
	{"run-6", "send_invoice"},
}

// sequential is how many of orders the child runs one after the other.
const sequential = 2

// planned returns the step at which run is meant to fail ("" for none).
func planned(run string) string {
	for _, o := range orders {
		if o.id == run {
			return o.failAt
		}
	}
	panic("crashtest: unknown run " + run)
}

// idempotent reports whether step is declared idempotent.
func idempotent(step string) bool {
	for _, s := range steps {
		if s.name == step {
			return s.idempotent
		}
	}
	panic("crashtest: unknown step " + step)
}

var errPlanned = errors.New("planned failure")

// fault is a cause of failure outside the saga's state, which a person
// can fix between processes: it returns an error for a step of a run that
// must fail now, nil otherwise.
type fault func(run, step string) error

// newSaga builds the saga, whose actions and compensations record their
// effects in l and call k (nil for none) right after. An action fails
// when its order plans it, or when f (nil for none) says so; a call that
// f fails is recorded in l with its key, but takes no effect.
func newSaga(l *ledger, k *killer, f fault) *saga.Saga[order] {
	b := saga.New[order]().Name("crash_order")
	for _, s := range steps {
		act := func(ctx context.Context, o *order) error {
			if o.FailAt == s.name {
				return fmt.Errorf("%s: %w", s.name, errPlanned)
			}
			run, key := saga.RunID(ctx), durable.IdempotencyKey(ctx)
			if f != nil {
				if err := f(run, s.name); err != nil {
					if lerr := l.refuse(run, s.name, key); lerr != nil {
						return lerr
					}
					return err
				}
			}
			if err := l.act(run, s.name, key, s.idempotent); err != nil {
				return err
			}
			k.hit(inStep, run, s.name)
			if o.Refs == nil {
				o.Refs = map[string]string{}
			}
			o.Refs[s.name] = key
			return nil
		}
		comp := func(ctx context.Context, o *order) error {
			run := saga.RunID(ctx)
			if err := l.undo(run, s.name); err != nil {
				return err
			}
			k.hit(inCompensation, run, s.name)
			delete(o.Refs, s.name)
			return nil
		}
		var opts []saga.StepOption
		if s.idempotent {
			opts = append(opts, saga.Idempotent())
		}
		b.Step(s.name, act, comp, opts...)
	}
	return b.Build()
}

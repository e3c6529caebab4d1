package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/saga"
)

// PaymentConfirmed is the event the webhook delivers to an order's run.
const PaymentConfirmed = "payment-confirmed"

// Order is the saga's state.
type Order struct {
	Number string `json:"number"`
	Item   string `json:"item"`
	Cents  int64  `json:"cents"`
	// PayWithin is how long the customer has to pay: 30 minutes in a
	// shop, much less in this demo.
	PayWithin time.Duration `json:"pay_within"`

	Reservation string `json:"reservation,omitempty"` // set by reserve_stock
	Payment     string `json:"payment,omitempty"`     // the provider's payment ID, set by await_payment
	Parcel      string `json:"parcel,omitempty"`      // set by ship
}

// Payment is what the payment provider's webhook says, and the payload of
// the PaymentConfirmed event.
type Payment struct {
	Order string `json:"order"`
	ID    string `json:"payment_id"`
	Cents int64  `json:"amount_cents"`
}

// warehouse is the stock of the shop's one article. A reservation is
// keyed by the reserving step's idempotency key, so that a step run again
// (after a crash) reserves once.
type warehouse struct {
	mu       sync.Mutex
	shelf    int             // on the shelf, not reserved
	reserved map[string]bool // idempotency key: reserved
	shipped  int
}

func newWarehouse(n int) *warehouse {
	return &warehouse{shelf: n, reserved: map[string]bool{}}
}

var errSoldOut = errors.New("sold out")

// reserve takes one article off the shelf for key (the reservation's ID),
// once; it returns how many are left.
func (w *warehouse) reserve(key string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reserved[key] {
		return w.shelf, nil
	}
	if w.shelf == 0 {
		return 0, errSoldOut
	}
	w.shelf--
	w.reserved[key] = true
	return w.shelf, nil
}

// release puts key's article back on the shelf, if it is reserved; it
// returns how many are on the shelf.
func (w *warehouse) release(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reserved[key] {
		delete(w.reserved, key)
		w.shelf++
	}
	return w.shelf
}

// ship sends key's reserved article, once.
func (w *warehouse) ship(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reserved[key] {
		delete(w.reserved, key)
		w.shipped++
	}
}

// count returns how many articles are on the shelf, reserved and shipped.
func (w *warehouse) count() (shelf, reserved, shipped int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.shelf, len(w.reserved), w.shipped
}

// say prints lines from several goroutines.
type say struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *say) f(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format+"\n", args...)
}

// shop runs the order saga's steps for the worker named who.
type shop struct {
	out   *say
	who   string
	stock *warehouse
}

// saga is the order: reserve the article, wait for the payment, ship.
func (s *shop) saga() *saga.Saga[Order] {
	return saga.New[Order]().Name("order").
		Step("reserve_stock", s.reserve, s.release, saga.Idempotent()).
		Step("await_payment", s.awaitPayment, s.refund).
		Step("ship", s.ship, nil, saga.Idempotent()).
		Build()
}

func (s *shop) reserve(ctx context.Context, o *Order) error {
	key := durable.IdempotencyKey(ctx)
	left, err := s.stock.reserve(key)
	if err != nil {
		return err
	}
	o.Reservation = key
	s.out.f("%s: %s: reserved 1 x %s (%d left on the shelf)", s.who, o.Number, o.Item, left)
	return nil
}

func (s *shop) release(ctx context.Context, o *Order) error {
	left := s.stock.release(durable.IdempotencyKey(ctx))
	s.out.f("%s: %s: reservation released (%d on the shelf)", s.who, o.Number, left)
	return nil
}

// awaitPayment waits for the payment provider's confirmation, for at
// most o.PayWithin.
//
// Await comes first: the step runs again from its beginning when the
// event (or the deadline) wakes the run, so whatever a step does before
// Await must be safe to do twice.
func (s *shop) awaitPayment(ctx context.Context, o *Order) error {
	p, err := durable.Await[Payment](ctx, PaymentConfirmed, o.PayWithin)
	switch {
	case errors.Is(err, saga.ErrSuspended):
		// Not yet: returning the error journals the run as waiting. It
		// holds no goroutine, lease or connection until it is woken.
		s.out.f("%s: %s: no payment yet: the order waits for %q, for at most %v", s.who, o.Number, PaymentConfirmed, o.PayWithin)
		return err
	case errors.Is(err, durable.ErrWaitTimedOut):
		s.out.f("%s: %s: no payment within %v: the order is cancelled", s.who, o.Number, o.PayWithin)
		return err // the step fails: the reservation is released
	case err != nil:
		return err
	}
	o.Payment = p.ID
	s.out.f("%s: %s: payment %s of %s received", s.who, o.Number, p.ID, euros(p.Cents))
	return nil
}

// refund gives the payment back, if there was one: a compensation runs
// also for an order cancelled by an operator while it waited.
func (s *shop) refund(_ context.Context, o *Order) error {
	if o.Payment != "" {
		s.out.f("%s: %s: payment %s refunded", s.who, o.Number, o.Payment)
	}
	return nil
}

func (s *shop) ship(_ context.Context, o *Order) error {
	s.stock.ship(o.Reservation)
	o.Parcel = "parcel-" + o.Number[len("order-"):]
	s.out.f("%s: %s: shipped in %s", s.who, o.Number, o.Parcel)
	return nil
}

func euros(cents int64) string { return fmt.Sprintf("%d.%02d EUR", cents/100, cents%100) }

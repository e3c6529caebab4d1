package main

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// The sagas the tests journal, as a shop's services would define them.

// Order is the state of the order and payment sagas.
type Order struct {
	Number  string `json:"number"`
	Decline bool   `json:"decline,omitempty"` // the card is declined
	Stock   string `json:"stock,omitempty"`   // set by reserve_stock
	Payment string `json:"payment,omitempty"` // set by charge_card
	Parcel  string `json:"parcel,omitempty"`  // set by ship
}

// Transfer is the state of the transfer saga.
type Transfer struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Cents  int    `json:"cents"`
	Debit  string `json:"debit,omitempty"`
	Credit string `json:"credit,omitempty"`
}

// Trip is the state of the trip saga.
type Trip struct {
	Flight string `json:"flight,omitempty"`
	Hotel  string `json:"hotel,omitempty"`
}

var errDeclined = errors.New("card declined")

func nop[S any](context.Context, *S) error { return nil }

// orderSaga: reserve, charge (declined when Decline is set), ship (the
// pivot), email (retriable).
func orderSaga() *saga.Saga[Order] {
	return saga.New[Order]().Name("order").
		Step("reserve_stock", func(_ context.Context, o *Order) error { o.Stock = "shelf-7"; return nil }, nop[Order]).
		Step("charge_card", func(_ context.Context, o *Order) error {
			if o.Decline {
				return errDeclined
			}
			o.Payment = "pay-" + o.Number
			return nil
		}, nop[Order]).
		Step("ship", func(_ context.Context, o *Order) error { o.Parcel = "parcel-" + o.Number; return nil }, nil, saga.Pivot()).
		Step("email", nop[Order], nil, saga.Retriable()).
		Build()
}

// bank is the transfer's far side: credits fail while it is down.
type bank struct {
	mu   sync.Mutex
	down bool
}

func (b *bank) credit(_ context.Context, t *Transfer) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		return errors.New("bank unreachable: connection refused")
	}
	t.Credit = "cr-" + t.To
	return nil
}

// transferSaga pauses on failure: debit, then credit.
func transferSaga(b *bank) *saga.Saga[Transfer] {
	return saga.New[Transfer]().Name("transfer").
		Step("debit", func(_ context.Context, t *Transfer) error { t.Debit = "db-" + t.From; return nil }, nop[Transfer]).
		Step("credit", b.credit, nop[Transfer]).
		Build()
}

// tripSaga: debit, then flight, hotel and car at once, then confirm.
// The flight is booked once the hotel and the car have started (so that
// the three starts are journaled before any end), the hotel fails once
// the flight is booked, and the car is cancelled by the failure.
func tripSaga() *saga.Saga[Trip] {
	running := make(chan struct{}, 2)
	flightDone := make(chan struct{})
	return saga.New[Trip]().Name("trip").
		Step("debit", nop[Trip], nop[Trip]).
		Step("flight", func(_ context.Context, t *Trip) error {
			<-running
			<-running
			t.Flight = "LH-400"
			close(flightDone)
			return nil
		}, nop[Trip], saga.After("debit")).
		Step("hotel", func(ctx context.Context, t *Trip) error {
			running <- struct{}{}
			<-flightDone
			time.Sleep(5 * time.Millisecond) // the flight's end is journaled first
			return errors.New("no rooms left")
		}, nop[Trip], saga.After("debit")).
		Step("car", func(ctx context.Context, t *Trip) error {
			running <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}, nop[Trip], saga.After("debit")).
		Step("confirm", nop[Trip], nil, saga.After("flight", "hotel", "car")).
		Build()
}

// paymentSaga waits for its payment.
func paymentSaga() *saga.Saga[Order] {
	return saga.New[Order]().Name("payment").
		Step("reserve_stock", func(_ context.Context, o *Order) error { o.Stock = "shelf-9"; return nil }, nop[Order], saga.Idempotent()).
		Step("await_payment", func(ctx context.Context, o *Order) error {
			p, err := durable.Await[string](ctx, "payment-confirmed", 30*time.Minute)
			if err != nil {
				return err
			}
			o.Payment = p
			return nil
		}, nop[Order]).
		Build()
}

// shop is an engine with the sagas registered.
type shop struct {
	engine   *durable.Engine
	order    *durable.Definition[Order]
	transfer *durable.Definition[Transfer]
	trip     *durable.Definition[Trip]
	payment  *durable.Definition[Order]
	bank     *bank
}

func newShop(t *testing.T, store journal.Store) *shop {
	t.Helper()
	s := &shop{engine: durable.NewEngine(store, durable.WithOwner("worker-1")), bank: &bank{}}
	var err error
	must := func(e error) {
		if e != nil {
			t.Fatal(e)
		}
	}
	s.order, err = durable.Register(s.engine, orderSaga())
	must(err)
	s.transfer, err = durable.Register(s.engine, transferSaga(s.bank), durable.PauseOnFailure())
	must(err)
	s.trip, err = durable.Register(s.engine, tripSaga())
	must(err)
	s.payment, err = durable.Register(s.engine, paymentSaga())
	must(err)
	return s
}

// runs journals the runs the tests look at: order-1001 succeeded,
// order-1002 compensated, transfer-3001 paused, trip-2001 compensated
// (a graph), payment-4001 waiting.
func (s *shop) runs(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	at := func(id string) context.Context { return saga.WithRunID(ctx, id) }
	if _, err := s.order.Run(at("order-1001"), &Order{Number: "1001"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.order.Run(at("order-1002"), &Order{Number: "1002", Decline: true}); !errors.Is(err, errDeclined) {
		t.Fatalf("order-1002: %v", err)
	}
	s.bank.down = true
	if rep, _ := s.transfer.Run(at("transfer-3001"), &Transfer{From: "alice", To: "bob", Cents: 2500}); rep.Status != saga.StatusPaused {
		t.Fatalf("transfer-3001: %v", rep.Status)
	}
	s.bank.down = false
	if rep, _ := s.trip.Run(at("trip-2001"), &Trip{}); rep.Status != saga.StatusCompensated {
		t.Fatalf("trip-2001: %v", rep.Status)
	}
	if _, err := s.payment.Run(at("payment-4001"), &Order{Number: "4001"}); !errors.Is(err, durable.ErrWaiting) {
		t.Fatalf("payment-4001: %v", err)
	}
}

// base is the time the rewritten journal starts at: far ahead, so that
// no deadline or lease in it has passed on the store's clock.
var base = time.Date(2099, 3, 14, 9, 0, 0, 0, time.UTC)

// now is the time sagactl measures ages to in the golden files.
const now = "2099-03-14T10:00:00Z"

// rewriteTimes gives every time in a SQLite journal a fixed value, so
// that sagactl's output is the same at every run of the test: run k
// (by creation) starts at base + k minutes, and its entries follow 10ms
// apart, in their order, except that steps whose starts follow each
// other start at the same time (they started at once, in an order that
// changes from one run of the test to the next). The journal's store
// must be closed.
func rewriteTimes(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM runs ORDER BY created, id`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	exec := func(q string, args ...any) {
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for k, id := range ids {
		start := base.Add(time.Duration(k) * time.Minute)
		rows, err := db.Query(`SELECT seq, kind FROM entries WHERE run_id = ? ORDER BY seq`, id)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		var kinds []string
		for rows.Next() {
			var seq int64
			var kind string
			if err := rows.Scan(&seq, &kind); err != nil {
				t.Fatal(err)
			}
			seqs, kinds = append(seqs, seq), append(kinds, kind)
		}
		rows.Close()
		last, tick := start, 0
		for i, seq := range seqs {
			if i > 0 && !(kinds[i] == string(journal.StepStarted) && kinds[i-1] == string(journal.StepStarted)) {
				tick++
			}
			last = start.Add(time.Duration(tick) * 10 * time.Millisecond)
			exec(`UPDATE entries SET at = ? WHERE run_id = ? AND seq = ?`, last.UnixNano(), id, seq)
		}
		exec(`UPDATE runs SET created = ?, updated = ?, ended = CASE WHEN ended = 0 THEN 0 ELSE ? END,
			lease_expiry = CASE WHEN lease_owner = '' THEN 0 ELSE ? END,
			wait_until = CASE WHEN wait_until = 0 THEN 0 ELSE ? END WHERE id = ?`,
			start.UnixNano(), last.UnixNano(), last.UnixNano(), last.Add(30*time.Second).UnixNano(),
			last.Add(30*time.Minute).UnixNano(), id)
		exec(`UPDATE signals SET at = ? WHERE run_id = ?`, last.UnixNano(), id)
	}
}

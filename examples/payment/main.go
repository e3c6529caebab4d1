// Command payment shows an order that waits for its payment: a durable
// wait for an event that a webhook delivers, with a deadline.
//
// The order saga reserves the article, waits for the payment provider's
// "payment-confirmed" event ([durable.Await]) for at most the time the
// customer has to pay, then ships. While it waits, the run is journaled
// as waiting and holds nothing: no goroutine, no lease, no worker slot.
// The provider's webhook (POST /webhooks/payment, a JSON body naming the
// order, the delivery's ID in a Webhook-Id header) hands the payment to
// the order's run with [durable.Engine.Signal] and [durable.Delivery]: a
// retried delivery is answered 200 again and recorded once. A webhook
// for an unknown order is answered 404, one for an order that ended
// without that payment 409. When no payment comes in time, the wait ends
// with [durable.ErrWaitTimedOut], the step fails, and the reservation is
// released.
//
// The story, on a SQLite journal in a temporary directory: a worker
// ([durable.Engine.Work], one run at a time) takes two orders, which both
// wait for their payment; the worker stops (a deploy, say), and
// meanwhile the provider confirms the first order's payment, then sends
// the same delivery again; a second worker starts, ships the first order,
// and cancels the second when its deadline passes. The customers have
// 300ms to pay, to keep the demo short; a shop would give them 30
// minutes.
//
// Run it with `go run ./examples/payment`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
	"github.com/sagakit/sagakit/saga"
)

const (
	payWithin = 300 * time.Millisecond // how long a customer has to pay
	poll      = 50 * time.Millisecond  // how often a worker looks for runs whose deadline has passed
	plushies  = 3                      // on the shelf when the shop opens
)

func main() {
	dir, err := os.MkdirTemp("", "payment-")
	if err == nil {
		err = story(context.Background(), os.Stdout, dir)
		os.RemoveAll(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "payment:", err)
		os.Exit(1)
	}
}

// story runs the shop on a journal in dir, printing to w.
func story(ctx context.Context, w io.Writer, dir string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out := &say{w: w}
	stock := newWarehouse(plushies)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "journal.db"))
	if err != nil {
		return err
	}
	defer store.Close()

	// The front end starts orders, answers webhooks and waits for
	// outcomes; it drives no run itself.
	front := durable.NewEngine(store, durable.WithOwner("front-end"))
	def, err := durable.Register(front, (&shop{out: out, who: "front-end", stock: stock}).saga())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: (&webhook{engine: front, store: store}).routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	pay := &provider{out: out, url: "http://" + ln.Addr().String() + "/webhooks/payment"}

	out.f("# The shop has %d gopher plushies. Two customers order one each, and have %v to pay.", plushies, payWithin)
	out.f("# worker-1 drives the orders, one at a time.")
	w1, err := startWorker(ctx, store, out, stock, "worker-1")
	if err != nil {
		return err
	}
	orders := []string{"order-1001", "order-1002"}
	for _, id := range orders {
		o := &Order{Number: id, Item: "gopher plush", Cents: 2490, PayWithin: payWithin}
		if _, err := def.Start(saga.WithRunID(ctx, id), o); err != nil {
			return err
		}
	}
	for _, id := range orders {
		if err := until(ctx, func() (bool, error) {
			run, _, err := store.Load(ctx, id)
			return run.Status == journal.Waiting, err
		}); err != nil {
			return fmt.Errorf("%s does not wait: %w", id, err)
		}
	}
	if err := w1.stop(); err != nil {
		return err
	}

	out.f("\n# worker-1 stops (a deploy, say). The journal holds both orders waiting, held by no one:")
	for _, id := range orders {
		run, _, err := store.Load(ctx, id)
		if err != nil {
			return err
		}
		out.f("%s: %s for %q, lease: %s", id, run.Status, run.Wait.Event, orNone(run.LeaseOwner))
	}

	out.f("\n# Meanwhile the payment provider confirms order-1001's payment.")
	paid := Payment{Order: "order-1001", ID: "pay_4242", Cents: 2490}
	if err := pay.deliver(ctx, "evt_1", paid, http.StatusOK); err != nil {
		return err
	}
	out.f("# The provider's client gave up before the answer came: it sends the same delivery again.")
	if err := pay.deliver(ctx, "evt_1", paid, http.StatusOK); err != nil {
		return err
	}
	sigs, err := store.Signals(ctx, paid.Order)
	if err != nil {
		return err
	}
	run, _, err := store.Load(ctx, paid.Order)
	if err != nil {
		return err
	}
	if len(sigs) != 1 || !run.Wait.Woken {
		return fmt.Errorf("%s: %d events kept, woken %v; want 1 and woken", paid.Order, len(sigs), run.Wait.Woken)
	}
	out.f("The journal keeps 1 event for %s and marks its run woken: the retry was not recorded again.", paid.Order)
	if err := pay.deliver(ctx, "evt_2", Payment{Order: "order-9999", ID: "pay_1111", Cents: 990}, http.StatusNotFound); err != nil {
		return err
	}

	out.f("\n# worker-2 starts, on the same journal.")
	w2, err := startWorker(ctx, store, out, stock, "worker-2")
	if err != nil {
		return err
	}
	defer w2.stop()
	reports := make([]*saga.Report, len(orders))
	errs := make([]error, len(orders))
	for i, id := range orders {
		reports[i], errs[i] = front.Wait(ctx, id)
		if errs[i] != nil && reports[i] == nil {
			return errs[i]
		}
	}

	out.f("\n# The outcomes, from the journal:")
	for i, id := range orders {
		if errs[i] != nil {
			out.f("%s: %s: %v", id, reports[i].Status, errs[i])
		} else {
			out.f("%s: %s", id, reports[i].Status)
		}
	}
	if errs[0] != nil || !errors.Is(errs[1], durable.ErrWaitTimedOut) {
		return fmt.Errorf("want order-1001 shipped and order-1002 timed out, got %v and %v", errs[0], errs[1])
	}
	out.f("%s", strings.TrimRight(reports[0].String(), "\n"))

	out.f("\n# Late webhooks: the payment for the cancelled order, and the first delivery once more.")
	if err := pay.deliver(ctx, "evt_3", Payment{Order: "order-1002", ID: "pay_5151", Cents: 2490}, http.StatusConflict); err != nil {
		return err
	}
	if err := pay.deliver(ctx, "evt_1", paid, http.StatusOK); err != nil {
		return err
	}

	shelf, reserved, shipped := stock.count()
	out.f("\n# The warehouse: %d on the shelf, %d reserved, %d shipped.", shelf, reserved, shipped)
	if shelf != plushies-1 || reserved != 0 || shipped != 1 {
		return fmt.Errorf("the warehouse holds %d on the shelf, %d reserved, %d shipped; want %d, 0, 1", shelf, reserved, shipped, plushies-1)
	}
	return nil
}

// worker is a worker's engine, driving runs until it is stopped.
type worker struct {
	cancel context.CancelFunc
	done   chan error
}

// startWorker starts an engine named who on store, with the order saga
// registered, driving one run at a time.
func startWorker(ctx context.Context, store journal.Store, out *say, stock *warehouse, who string) (*worker, error) {
	e := durable.NewEngine(store, durable.WithOwner(who), durable.WithConcurrency(1))
	if _, err := durable.Register(e, (&shop{out: out, who: who, stock: stock}).saga()); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &worker{cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- e.Work(ctx, poll) }()
	return w, nil
}

// stop stops the worker and waits until it has.
func (w *worker) stop() error {
	w.cancel()
	if err := <-w.done; !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// until polls cond every 10ms until it holds, fails, or ctx ends.
func until(ctx context.Context, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

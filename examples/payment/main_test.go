package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/internal/exampletest"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

func TestStory(t *testing.T) {
	is := is.New(t)
	var buf bytes.Buffer
	is.NoErr(story(t.Context(), &buf, t.TempDir()))
	out := buf.String()

	exampletest.InOrder(t, out,
		"# The shop has 3 gopher plushies. Two customers order one each, and have 300ms to pay.",
		"worker-1: order-1001: reserved 1 x gopher plush (2 left on the shelf)",
		`worker-1: order-1001: no payment yet: the order waits for "payment-confirmed", for at most 300ms`,
		"worker-1: order-1002: reserved 1 x gopher plush (1 left on the shelf)",
		`worker-1: order-1002: no payment yet: the order waits for "payment-confirmed", for at most 300ms`,
		`order-1001: waiting for "payment-confirmed", lease: none`,
		`order-1002: waiting for "payment-confirmed", lease: none`,
		"provider: POST /webhooks/payment order-1001 pay_4242 (Webhook-Id: evt_1) -> 200 OK: ok",
		"it sends the same delivery again.",
		"provider: POST /webhooks/payment order-1001 pay_4242 (Webhook-Id: evt_1) -> 200 OK: ok",
		"The journal keeps 1 event for order-1001 and marks its run woken: the retry was not recorded again.",
		"provider: POST /webhooks/payment order-9999 pay_1111 (Webhook-Id: evt_2) -> 404 Not Found: no order order-9999",
		"# worker-2 starts, on the same journal.",
		"worker-2: order-1001: payment pay_4242 of 24.90 EUR received",
		"worker-2: order-1001: shipped in parcel-1001",
		"worker-2: order-1002: no payment within 300ms: the order is cancelled",
		"worker-2: order-1002: reservation released (2 on the shelf)",
		"order-1001: succeeded",
		`order-1002: compensated: saga "order": step "await_payment" failed: durable: wait timed out: event "payment-confirmed" (compensated)`,
		`saga "order" run order-1001 succeeded in`,
		"provider: POST /webhooks/payment order-1002 pay_5151 (Webhook-Id: evt_3) -> 409 Conflict: order order-1002 has ended without this payment",
		"provider: POST /webhooks/payment order-1001 pay_4242 (Webhook-Id: evt_1) -> 200 OK: ok",
		"# The warehouse: 2 on the shelf, 0 reserved, 1 shipped.",
	)
	// The payment was taken once; nothing ran twice but the waiting step,
	// once before its wait and once when woken.
	is.Equal(strings.Count(out, "payment pay_4242 of 24.90 EUR received"), 1)
	is.Equal(strings.Count(out, "shipped in"), 1)
	is.Equal(strings.Count(out, "reserved 1 x"), 2)
	is.True(!strings.Contains(out, "refunded"))
	for _, step := range []string{"reserve_stock", "await_payment", "ship"} {
		is.Equal(exampletest.Row(t, out, step)[:3], []string{step, "succeeded", "1"})
	}
}

// shopOnMemory is the shop on a memory store, with a worker, for the
// webhook's tests.
func shopOnMemory(t *testing.T) (*durable.Definition[Order], *durable.Engine, *journal.Memory, *httptest.Server) {
	t.Helper()
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	def, err := durable.Register(e, (&shop{out: &say{w: io.Discard}, who: "test", stock: newWarehouse(5)}).saga())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&webhook{engine: e, store: store}).routes())
	t.Cleanup(srv.Close)
	return def, e, store, srv
}

// post sends a webhook and returns the answer's status code.
func post(t *testing.T, url, delivery, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/webhooks/payment", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if delivery != "" {
		req.Header.Set(DeliveryHeader, delivery)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebhook(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	def, e, store, srv := shopOnMemory(t)
	_, err := def.Run(saga.WithRunID(ctx, "order-1"), &Order{Number: "order-1", Item: "gopher plush", Cents: 100, PayWithin: time.Hour})
	is.True(errors.Is(err, durable.ErrWaiting))

	const paid = `{"order":"order-1","payment_id":"pay_1","amount_cents":100}`
	is.Equal(post(t, srv.URL, "", paid), http.StatusBadRequest)                       // no delivery ID
	is.Equal(post(t, srv.URL, "d1", `{"payment_id":"pay_1"}`), http.StatusBadRequest) // no order
	is.Equal(post(t, srv.URL, "d1", `not json`), http.StatusBadRequest)
	is.Equal(post(t, srv.URL, "d1", `{"order":"order-2","payment_id":"pay_2"}`), http.StatusNotFound)

	// The delivery and its retry: one event.
	is.Equal(post(t, srv.URL, "d1", paid), http.StatusOK)
	is.Equal(post(t, srv.URL, "d1", paid), http.StatusOK)
	sigs, err := store.Signals(ctx, "order-1")
	is.NoErr(err)
	is.Equal(len(sigs), 1)

	n, err := e.Recover(ctx, 0)
	is.NoErr(err)
	is.Equal(n, 1)
	_, err = e.Wait(ctx, "order-1")
	is.NoErr(err)

	// Once the order has ended: a retry is still answered 200, another
	// payment 409.
	is.Equal(post(t, srv.URL, "d1", paid), http.StatusOK)
	is.Equal(post(t, srv.URL, "d2", `{"order":"order-1","payment_id":"pay_9","amount_cents":100}`), http.StatusConflict)
	v, err := durable.Inspect(ctx, store, "order-1")
	is.NoErr(err)
	is.True(strings.Contains(string(v.State), `"payment":"pay_1"`))
}

// An operator who cancels a waiting order cancels its wait and releases
// the stock; the payment step's compensation finds nothing to refund.
func TestCancelWaitingOrder(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	var buf bytes.Buffer
	store := journal.NewMemory()
	e := durable.NewEngine(store)
	stock := newWarehouse(1)
	def, err := durable.Register(e, (&shop{out: &say{w: &buf}, who: "w", stock: stock}).saga())
	is.NoErr(err)
	_, err = def.Run(saga.WithRunID(ctx, "order-1"), &Order{Number: "order-1", Item: "gopher plush", PayWithin: time.Hour})
	is.True(errors.Is(err, durable.ErrWaiting))
	_, err = e.Resume(ctx, "order-1", "go on")
	is.True(errors.Is(err, durable.ErrBadRequest)) // a waiting run is not resumed

	_, err = e.Compensate(ctx, "order-1", "the customer cancelled")
	is.True(!errors.Is(err, durable.ErrBadRequest))
	run, _, err := store.Load(ctx, "order-1")
	is.NoErr(err)
	is.Equal(run.Status, journal.Compensated)
	shelf, reserved, _ := stock.count()
	is.Equal(shelf, 1)
	is.Equal(reserved, 0)
	is.True(!strings.Contains(buf.String(), "refunded"))
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
)

// DeliveryHeader names the provider's ID of a webhook delivery: the same
// on every retry of one delivery.
const DeliveryHeader = "Webhook-Id"

// webhook receives the payment provider's confirmations at
// POST /webhooks/payment and delivers each to its order's run as the
// event PaymentConfirmed.
type webhook struct {
	engine *durable.Engine
	store  journal.Store // to tell a retry from a payment for a finished order
}

func (h *webhook) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/payment", h.payment)
	return mux
}

// payment answers:
//   - 200 when the event is delivered, or was delivered before under the
//     same delivery ID (a retry changes nothing);
//   - 400 for a body that names no order or a delivery without an ID;
//   - 404 for an order the shop does not know;
//   - 409 for an order that has ended without this payment (it was
//     cancelled, say): the provider should refund it;
//   - 500 when the journal could not be written: the provider retries.
func (h *webhook) payment(w http.ResponseWriter, r *http.Request) {
	delivery := r.Header.Get(DeliveryHeader)
	var p Payment
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&p); err != nil || p.Order == "" || p.ID == "" {
		http.Error(w, "the body must be JSON naming the order and the payment", http.StatusBadRequest)
		return
	}
	if delivery == "" {
		http.Error(w, "missing "+DeliveryHeader+" header", http.StatusBadRequest)
		return
	}
	err := h.engine.Signal(r.Context(), p.Order, PaymentConfirmed, p, durable.Delivery(delivery))
	switch {
	case err == nil:
		fmt.Fprintln(w, "ok")
	case errors.Is(err, journal.ErrNotFound):
		http.Error(w, "no order "+p.Order, http.StatusNotFound)
	case errors.Is(err, journal.ErrFinal):
		// A retry that comes after the order has ended is refused by
		// Signal like any other signal: the order's state tells whether
		// it took this very payment.
		if paid, err := h.holds(r.Context(), p); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		} else if paid {
			fmt.Fprintln(w, "ok")
		} else {
			http.Error(w, "order "+p.Order+" has ended without this payment", http.StatusConflict)
		}
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// holds reports whether the order's newest state holds payment p.
func (h *webhook) holds(ctx context.Context, p Payment) (bool, error) {
	v, err := durable.Inspect(ctx, h.store, p.Order)
	if err != nil {
		return false, err
	}
	var o Order
	if err := json.Unmarshal(v.State, &o); err != nil {
		return false, err
	}
	return o.Payment == p.ID, nil
}

// provider is the payment provider's side: it posts webhooks to the shop.
type provider struct {
	out *say
	url string // the shop's webhook
}

// deliver posts payment p as delivery id, prints the shop's answer, and
// checks that its status code is want.
func (c *provider) deliver(ctx context.Context, id string, p Payment, want int) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(DeliveryHeader, id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var answer bytes.Buffer
	_, _ = answer.ReadFrom(resp.Body)
	c.out.f("provider: POST /webhooks/payment %s %s (%s: %s) -> %s: %s",
		p.Order, p.ID, DeliveryHeader, id, resp.Status, strings.TrimSpace(answer.String()))
	if resp.StatusCode != want {
		return fmt.Errorf("the webhook answered %d, want %d", resp.StatusCode, want)
	}
	return nil
}

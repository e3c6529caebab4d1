// Command trip books a trip the way talepy's concurrent mode does, with a
// dependency graph on top: the customer is debited first, then the
// flight, the hotel and the car are booked at the same time. The car
// rental has nothing left, so the flight and the hotel are cancelled (at
// the same time) and then, last, the customer is refunded.
//
// Run it with `go run ./examples/trip`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/sagakit/sagakit/parallel"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/state"
)

// Trip is the saga's state. Concurrent steps each write their own field
// (FlightID, HotelID, CarID); Booked, which they all write, is a
// state.Cell.
type Trip struct {
	Customer  string
	PaymentID string
	FlightID  string
	HotelID   string
	CarID     string
	Booked    state.Cell[[]string]
}

// ErrNoCar is the car rental's refusal.
var ErrNoCar = errors.New("no car available at the airport")

// say prints one line at a time: the steps run on several goroutines.
type say struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *say) f(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format+"\n", args...)
}

// book returns a booking step that takes d and records id in *field.
func book(out *say, what string, d time.Duration, id string, field func(*Trip) *string) func(context.Context, *Trip) error {
	return func(ctx context.Context, t *Trip) error {
		out.f("booking the %s...", what)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		*field(t) = id
		t.Booked.Update(func(b []string) []string { return append(b, what) })
		out.f("%s booked: %s", what, id)
		return nil
	}
}

// cancel returns the compensation of a booking.
func cancel(out *say, what string, field func(*Trip) *string) func(context.Context, *Trip) error {
	return func(_ context.Context, t *Trip) error {
		out.f("%s cancelled: %s", what, *field(t))
		*field(t) = ""
		t.Booked.Update(func(b []string) []string {
			return slices.DeleteFunc(b, func(s string) bool { return s == what })
		})
		return nil
	}
}

func tripSaga(out *say) *saga.Saga[Trip] {
	flight := func(t *Trip) *string { return &t.FlightID }
	hotel := func(t *Trip) *string { return &t.HotelID }
	car := func(t *Trip) *string { return &t.CarID }
	return saga.New[Trip]().Name("trip").
		Step("debit",
			func(_ context.Context, t *Trip) error {
				t.PaymentID = "pay-77"
				out.f("debited %s: %s", t.Customer, t.PaymentID)
				return nil
			},
			func(_ context.Context, t *Trip) error {
				out.f("refunded %s: %s", t.Customer, t.PaymentID)
				return nil
			}).
		Step("flight", book(out, "flight", 20*time.Millisecond, "LH-1234", flight), cancel(out, "flight", flight), saga.After("debit")).
		Step("hotel", book(out, "hotel", 30*time.Millisecond, "ROOM-12", hotel), cancel(out, "hotel", hotel), saga.After("debit")).
		Step("car", func(ctx context.Context, t *Trip) error {
			out.f("booking the car...")
			time.Sleep(60 * time.Millisecond)
			return ErrNoCar
		}, cancel(out, "car", car), saga.After("debit")).
		Build()
}

func run(w io.Writer) error {
	out := &say{w: w}
	trip := Trip{Customer: "alice"}
	rep, err := parallel.Run(context.Background(), tripSaga(out), &trip)
	if !errors.Is(err, ErrNoCar) {
		return fmt.Errorf("expected the car to fail, got %v", err)
	}
	fmt.Fprintf(w, "\nTrip not booked: %v\n", err)
	fmt.Fprintf(w, "Status: %s; still booked: %v\n\n", rep.Status, trip.Booked.Get())
	fmt.Fprintln(w, "Steps (flight, hotel and car overlap):")
	for _, s := range rep.Steps {
		fmt.Fprintf(w, "  %-7s %-12s started at +%dms, took %v\n", s.Name, s.Status,
			s.Start.Sub(rep.Start).Milliseconds()/10*10, s.Duration().Round(10*time.Millisecond))
	}
	return nil
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

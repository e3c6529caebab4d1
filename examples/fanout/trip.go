//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/saga"
	"github.com/sagakit/sagakit/state"
)

// Trip is the saga's state: what each step booked. The bookings run at
// once, each on its own copy of the state (see state.Fork), and each
// writes its own field; Booked, which they all write, is a state.Cell, so
// that every booking's addition lands when their copies are merged back.
type Trip struct {
	Customer     string               `json:"customer"`
	PaymentID    string               `json:"payment,omitempty"`      // set by debit
	FlightID     string               `json:"flight,omitempty"`       // set by flight
	HotelID      string               `json:"hotel,omitempty"`        // set by hotel
	CarID        string               `json:"car,omitempty"`          // set by car
	Booked       state.Cell[[]string] `json:"booked"`                 // added to by flight, hotel and car
	Confirmation string               `json:"confirmation,omitempty"` // set by confirm
}

// services stands for the bank, the airline, the hotel, the car rental
// and the mail server: each does what it is asked and remembers, in a
// file, the result of every request by its idempotency key, so that a
// request made again with the same key returns the first result without
// doing anything. The file outlives the worker, as the services outlive
// their clients.
type services struct {
	mu   sync.Mutex
	path string
	done map[string]string // results by idempotency key
}

func openServices(path string) (*services, error) {
	s := &services{path: path, done: map[string]string{}}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, result, _ := strings.Cut(sc.Text(), " ")
		s.done[key] = result
	}
	return s, sc.Err()
}

// do makes the request named key: it returns the result of an earlier
// request with that key, or does the work (work returns the result) and
// records it. again tells which.
func (s *services) do(key string, work func() string) (result string, again bool, err error) {
	if key == "" {
		return "", false, errors.New("services: a request without idempotency key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.done[key]; ok {
		return r, true, nil
	}
	result = work()
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", false, err
	}
	if _, err := fmt.Fprintf(f, "%s %s\n", key, result); err != nil {
		f.Close()
		return "", false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", false, err
	}
	s.done[key] = result
	return result, false, f.Close()
}

// say prints one line at a time: the bookings run on several goroutines.
type say struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *say) f(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format+"\n", args...)
}

// agent runs the saga's steps against the services, printing what they
// do under the name of its process (worker or rescuer). hang, if not nil,
// is called in the middle of the hotel's and the car's bookings, and does
// not return: the worker dies there.
type agent struct {
	out  *say
	who  string
	svc  *services
	hang func(ctx context.Context, step string)
}

// request asks a service for the work of step, keyed by the step's
// idempotency key, and prints what happened.
func (a *agent) request(ctx context.Context, step string, work func() string) (string, error) {
	key := durable.IdempotencyKey(ctx)
	r, again, err := a.svc.do(key, work)
	switch {
	case err != nil:
		return "", err
	case again:
		a.out.f("%s: %s: key %s was done already: %s", a.who, step, key, r)
	default:
		a.out.f("%s: %s: %s (key %s)", a.who, step, r, key)
	}
	return r, nil
}

func (a *agent) debit(ctx context.Context, t *Trip) (err error) {
	t.PaymentID, err = a.request(ctx, "debit", func() string { return "pay-77" })
	return err
}

func (a *agent) refund(_ context.Context, t *Trip) error {
	a.out.f("%s: refund: %s", a.who, t.PaymentID)
	return nil
}

// booked records a booking in the trip.
func booked(t *Trip, what string) {
	t.Booked.Update(func(b []string) []string { return append(b, what) })
}

func (a *agent) bookFlight(ctx context.Context, t *Trip) (err error) {
	if t.FlightID, err = a.request(ctx, "flight", func() string { return "LH-1234" }); err == nil {
		booked(t, "flight")
	}
	return err
}

// bookHotel books a room; in the worker, the process dies after the hotel
// booked it and before its answer arrives.
func (a *agent) bookHotel(ctx context.Context, t *Trip) (err error) {
	if t.HotelID, err = a.request(ctx, "hotel", func() string { return "ROOM-12" }); err != nil {
		return err
	}
	if a.hang != nil {
		a.out.f("%s: hotel: the hotel booked the room, its answer is on its way", a.who)
		a.hang(ctx, "hotel")
	}
	booked(t, "hotel")
	return nil
}

// bookCar rents a car; in the worker, the process dies before the car
// rental does anything.
func (a *agent) bookCar(ctx context.Context, t *Trip) (err error) {
	if a.hang != nil {
		a.out.f("%s: car: asked the car rental, which has not answered yet", a.who)
		a.hang(ctx, "car")
	}
	if t.CarID, err = a.request(ctx, "car", func() string { return "CAR-5" }); err == nil {
		booked(t, "car")
	}
	return err
}

// cancel returns the compensation of a booking.
func (a *agent) cancel(what string, id func(*Trip) string) func(context.Context, *Trip) error {
	return func(_ context.Context, t *Trip) error {
		a.out.f("%s: %s cancelled: %s", a.who, what, id(t))
		return nil
	}
}

// confirm e-mails the customer the details of the booking, as talepy's
// EmailCustomerDetailsOfBooking does. It runs after the three bookings,
// so its state holds all of them.
func (a *agent) confirm(ctx context.Context, t *Trip) (err error) {
	t.Confirmation, err = a.request(ctx, "confirm", func() string {
		return fmt.Sprintf("mail to %s: flight %s, hotel %s, car %s", t.Customer, t.FlightID, t.HotelID, t.CarID)
	})
	return err
}

// saga defines the trip: debit first, then the flight, the hotel and the
// car at once, then the confirmation. Every step is idempotent, since the
// services take idempotency keys: a step whose outcome a crash lost runs
// again with the same key.
func (a *agent) saga() *saga.Saga[Trip] {
	return saga.New[Trip]().Name("trip").
		Step("debit", a.debit, a.refund, saga.Idempotent()).
		Step("flight", a.bookFlight, a.cancel("flight", func(t *Trip) string { return t.FlightID }),
			saga.After("debit"), saga.Idempotent()).
		Step("hotel", a.bookHotel, a.cancel("hotel", func(t *Trip) string { return t.HotelID }),
			saga.After("debit"), saga.Idempotent()).
		Step("car", a.bookCar, a.cancel("car", func(t *Trip) string { return t.CarID }),
			saga.After("debit"), saga.Idempotent()).
		Step("confirm", a.confirm, nil, saga.After("flight", "hotel", "car"), saga.Idempotent()).
		Build()
}

// Command holiday ports talepy's holiday booking: debit the customer, book
// a flight and a hotel, then email the customer. The hotel is full, so after
// three attempts the saga gives up and undoes the flight and the payment, in
// reverse order, and returns the hotel's own error.
//
// As in talepy, most steps are types with Execute and Compensate (added with
// [saga.Builder.Add]); the log lines are plain functions, one without a
// compensation (talepy's lambda) and one paired with a compensation
// (talepy's tuple). talepy's attempt_retries(BookHotel(), times=2) is
// [saga.Retry] with a [retry.Policy] of three attempts in all.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sagakit/sagakit/retry"
	"github.com/sagakit/sagakit/saga"
)

// Booking is the saga state (talepy's starting_state): the request, and
// the references each step gets back from its service.
type Booking struct {
	CustomerID string
	Amount     int // euros

	PaymentID string // set by DebitCustomerBalance
	FlightID  string // set by BookFlight
	HotelID   string // set by BookHotel
}

// ErrHotelFull is the hotel's answer, every time.
var ErrHotelFull = errors.New("hotel is fully booked")

// DebitCustomerBalance bills the customer and refunds them on the way back.
type DebitCustomerBalance struct{ w io.Writer }

// Execute bills the customer and keeps the payment ID for the refund.
func (s DebitCustomerBalance) Execute(_ context.Context, b *Booking) error {
	b.PaymentID = "pay_42"
	fmt.Fprintf(s.w, "Payment: billed %s %d EUR (%s)\n", b.CustomerID, b.Amount, b.PaymentID)
	return nil
}

// Compensate refunds the payment.
func (s DebitCustomerBalance) Compensate(_ context.Context, b *Booking) error {
	fmt.Fprintf(s.w, "Payment: refunded %s\n", b.PaymentID)
	return nil
}

// BookFlight books a seat and cancels it on the way back.
type BookFlight struct{ w io.Writer }

// Execute books the flight.
func (s BookFlight) Execute(_ context.Context, b *Booking) error {
	b.FlightID = "LH-1234"
	fmt.Fprintf(s.w, "Flight: booked %s\n", b.FlightID)
	return nil
}

// Compensate cancels the flight.
func (s BookFlight) Compensate(_ context.Context, b *Booking) error {
	fmt.Fprintf(s.w, "Flight: cancelled %s\n", b.FlightID)
	return nil
}

// BookHotel asks a hotel that has no room left.
type BookHotel struct{ w io.Writer }

// Execute tries to book a room; retry.Attempt tells which try this is.
func (s BookHotel) Execute(ctx context.Context, _ *Booking) error {
	fmt.Fprintf(s.w, "Hotel: attempt %d to book a room... %v\n", retry.Attempt(ctx), ErrHotelFull)
	return ErrHotelFull
}

// Compensate cancels the room.
func (s BookHotel) Compensate(_ context.Context, b *Booking) error {
	fmt.Fprintf(s.w, "Hotel: cancelled %s\n", b.HotelID)
	return nil
}

// EmailCustomerDetailsOfBooking sends the confirmation; an email cannot be
// unsent, so its compensation does nothing.
type EmailCustomerDetailsOfBooking struct{ w io.Writer }

// Execute sends the email.
func (s EmailCustomerDetailsOfBooking) Execute(_ context.Context, b *Booking) error {
	fmt.Fprintf(s.w, "Email: sent booking details to %s\n", b.CustomerID)
	return nil
}

// Compensate does nothing.
func (EmailCustomerDetailsOfBooking) Compensate(context.Context, *Booking) error { return nil }

// holiday is talepy's list of steps.
func holiday(w io.Writer) *saga.Saga[Booking] {
	say := func(msg string) func(context.Context, *Booking) error {
		return func(context.Context, *Booking) error {
			fmt.Fprintln(w, msg)
			return nil
		}
	}
	return saga.New[Booking]().
		Name("holiday").
		Add("debit_customer_balance", DebitCustomerBalance{w}).
		// talepy: lambda _: print(...) — a plain function, nothing to undo.
		Step("log_debited", say("LOG -- The customer has been debited"), nil).
		Add("book_flight", BookFlight{w}).
		// talepy: (lambda _: print(...), lambda _: print(...)) — a pair.
		Step("log_flight_booked", say("LOG -- The flight has been booked"),
			say("LOG -- ┌[ ಠ ▃ ಠ ]┐ something went wrong")).
		// talepy: attempt_retries(BookHotel(), times=2): three attempts.
		Add("book_hotel", BookHotel{w}, saga.Retry(retry.Policy{
			MaxAttempts:     3,
			InitialInterval: 10 * time.Millisecond,
		})).
		Add("email_customer_details_of_booking", EmailCustomerDetailsOfBooking{w}).
		Build()
}

func run(w io.Writer) error {
	b := Booking{CustomerID: "cust_7", Amount: 1200}
	rep, err := holiday(w).Run(context.Background(), &b)

	fmt.Fprintln(w)
	if !errors.Is(err, ErrHotelFull) {
		return fmt.Errorf("expected the hotel to be full, got %v", err)
	}
	se, _ := errors.AsType[*saga.Error](err)
	fmt.Fprintf(w, "Holiday not booked: step %q failed: %v\n", se.Step, ErrHotelFull)
	fmt.Fprintln(w, "errors.Is(err, ErrHotelFull): true")
	fmt.Fprintf(w, "Saga %s:\n", rep.Status)
	for _, s := range rep.Steps {
		fmt.Fprintf(w, "  %-34s %-16s attempts=%d\n", s.Name, s.Status, s.Attempts)
	}
	return nil
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "holiday:", err)
		os.Exit(1)
	}
}

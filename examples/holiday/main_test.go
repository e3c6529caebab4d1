package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/internal/exampletest"
	"github.com/sagakit/sagakit/saga"
)

func TestRun(t *testing.T) {
	is := is.New(t)
	var buf bytes.Buffer
	is.NoErr(run(&buf))
	out := buf.String()

	exampletest.InOrder(t, out,
		"Payment: billed cust_7 1200 EUR (pay_42)",
		"LOG -- The customer has been debited",
		"Flight: booked LH-1234",
		"LOG -- The flight has been booked",
		"Hotel: attempt 1 to book a room... hotel is fully booked",
		"Hotel: attempt 2 to book a room... hotel is fully booked",
		"Hotel: attempt 3 to book a room... hotel is fully booked",
		// compensation, in reverse
		"LOG -- ┌[ ಠ ▃ ಠ ]┐ something went wrong",
		"Flight: cancelled LH-1234",
		"Payment: refunded pay_42",
		`Holiday not booked: step "book_hotel" failed: hotel is fully booked`,
		"Saga compensated:",
	)
	is.True(!strings.Contains(out, "attempt 4"))     // times=2: three attempts in all
	is.True(!strings.Contains(out, "Hotel: cancel")) // the failed step is not compensated
	is.True(!strings.Contains(out, "Email:"))        // the saga stopped at the hotel
}

func TestHoliday(t *testing.T) {
	is := is.New(t)
	b := Booking{CustomerID: "c", Amount: 1}
	rep, err := holiday(io.Discard).Run(context.Background(), &b)

	is.True(errors.Is(err, ErrHotelFull)) // the original error surfaces
	var se *saga.Error
	is.True(errors.As(err, &se))
	is.Equal(se.Step, "book_hotel")
	is.Equal(rep.Status, saga.StatusCompensated)

	want := map[string]saga.StepStatus{
		"debit_customer_balance":            saga.StepCompensated,
		"log_debited":                       saga.StepNotCompensated,
		"book_flight":                       saga.StepCompensated,
		"log_flight_booked":                 saga.StepCompensated,
		"book_hotel":                        saga.StepFailed,
		"email_customer_details_of_booking": saga.StepPending,
	}
	for name, status := range want {
		s, ok := rep.Step(name)
		is.True(ok)
		is.Equal(s.Status, status) // step status
	}
	hotel, _ := rep.Step("book_hotel")
	is.Equal(hotel.Attempts, 3)
	is.Equal(b.PaymentID, "pay_42") // steps wrote into the state
	is.Equal(b.FlightID, "LH-1234")
}

package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func TestRun(t *testing.T) {
	is := is.New(t)
	var buf bytes.Buffer
	is.NoErr(run(&buf))
	lines := strings.Split(buf.String(), "\n")
	at := func(s string) int {
		i := slices.Index(lines, s)
		if i < 0 {
			t.Fatalf("missing line %q in:\n%s", s, buf.String())
		}
		return i
	}
	debit := at("debited alice: pay-77")
	flight, hotel := at("flight booked: LH-1234"), at("hotel booked: ROOM-12")
	is.True(debit < flight && debit < hotel) // bookings start after the debit
	refund := at("refunded alice: pay-77")
	is.True(at("flight cancelled: LH-1234") < refund) // dependents are undone first
	is.True(at("hotel cancelled: ROOM-12") < refund)
	is.True(!strings.Contains(buf.String(), "car cancelled")) // the failed step is not compensated
	at("Status: compensated; still booked: []")
	// The report's line for car (its start offset depends on how busy the
	// machine is: not checked).
	is.True(strings.Contains(buf.String(), "  car     failed       started at +"))
}

//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"
	"go.uber.org/goleak"

	"github.com/sagakit/sagakit/internal/exampletest"
)

// TestMain makes the test binary the worker when the story runs it.
func TestMain(m *testing.M) {
	if dir := os.Getenv(workerEnv); dir != "" {
		err := worker(context.Background(), os.Stdout, dir)
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m) // the story leaves no goroutine running
}

func TestStory(t *testing.T) {
	is := is.New(t)
	var buf bytes.Buffer
	is.NoErr(story(t.Context(), &buf, t.TempDir()))
	out := buf.String()

	// The worker: the debit, then the three bookings at once (in any
	// order), then its death.
	_, rest, _ := strings.Cut(out, "worker: debit: pay-77 (key trip-1/debit/1)\n")
	died, _, _ := strings.Cut(rest, "The worker died")
	for _, l := range []string{
		"worker: flight: LH-1234 (key trip-1/flight/1)",
		"worker: hotel: ROOM-12 (key trip-1/hotel/1)",
		"worker: hotel: the hotel booked the room, its answer is on its way",
		"worker: car: asked the car rental, which has not answered yet",
	} {
		is.True(strings.Contains(died, l)) // after the debit, before the death
	}
	exampletest.InOrder(t, out,
		"worker: killed (SIGKILL) with the flight journaled as booked, the hotel and the car in flight",
		"The worker died: signal: killed.",
		`saga "trip" run trip-1 running for`,
		`state:    {"customer":"alice","payment":"pay-77","flight":"LH-1234","booked":["flight"]}`,
		"lease:    held by worker,",
		"debit succeeded: recovery takes its result from the journal's snapshot and does not run it again.",
		"flight succeeded: recovery takes its result from the journal's snapshot and does not run it again.",
		"hotel was running: its outcome is lost. It is idempotent, so it runs again with the same key, trip-1/hotel/1.",
		"car was running: its outcome is lost. It is idempotent, so it runs again with the same key, trip-1/car/1.",
		"confirm has not started: it runs once the steps it runs after have succeeded.",
		"# When the lease has expired, the rescuer recovers the run.",
	)
	// Before recovery: the journal holds the two bookings in flight as
	// running, and the confirmation as not started.
	for _, s := range []string{"hotel", "car"} {
		is.Equal(exampletest.Row(t, out, s)[:2], []string{s, "running"})
	}
	before, _, _ := strings.Cut(out, "# When the lease")
	is.True(strings.Contains(before, "confirm  pending"))

	// The rescuer: the hotel and the car again, at once, under the same
	// keys; the hotel had booked the room already, the car rental books a
	// car; then the confirmation.
	_, rescue, _ := strings.Cut(out, "# When the lease has expired")
	exampletest.InOrder(t, rescue,
		"rescuer: hotel: key trip-1/hotel/1 was done already: ROOM-12",
		"rescuer: confirm: mail to alice: flight LH-1234, hotel ROOM-12, car CAR-5 (key trip-1/confirm/1)",
		"Recovered 1 run.",
		`saga "trip" run trip-1 succeeded in`,
	)
	exampletest.InOrder(t, rescue,
		"rescuer: car: CAR-5 (key trip-1/car/1)",
		"rescuer: confirm:",
	)
	// The rescuer ran nothing the journal held as done, and each service
	// did its work once.
	is.True(!strings.Contains(out, "rescuer: debit"))
	is.True(!strings.Contains(out, "rescuer: flight"))
	is.True(!strings.Contains(out, "cancelled") && !strings.Contains(out, "refund"))
	for _, key := range []string{"debit", "flight", "hotel", "car", "confirm"} {
		is.Equal(strings.Count(out, "(key trip-1/"+key+"/1)"), 1)
	}

	_, final, _ := strings.Cut(out, "# The final report")
	for _, s := range steps {
		is.Equal(exampletest.Row(t, final, s)[:3], []string{s, "succeeded", "1"})
	}
	// The final state holds every booking, merged from the steps that
	// ran at once.
	_, js, ok := strings.Cut(final, "state:    ")
	is.True(ok)
	var got struct {
		Customer, Payment, Flight, Hotel, Car, Confirmation string
		Booked                                              []string
	}
	is.NoErr(json.Unmarshal([]byte(strings.TrimSpace(js)), &got))
	slices.Sort(got.Booked)
	is.Equal(got.Booked, []string{"car", "flight", "hotel"})
	is.Equal([]string{got.Customer, got.Payment, got.Flight, got.Hotel, got.Car},
		[]string{"alice", "pay-77", "LH-1234", "ROOM-12", "CAR-5"})
	is.Equal(got.Confirmation, "mail to alice: flight LH-1234, hotel ROOM-12, car CAR-5")
}

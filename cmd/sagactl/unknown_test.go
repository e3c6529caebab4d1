package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// A run paused on the unknown outcome of a step that is not idempotent:
// resuming it runs that step again, so a resume or retry without --seen
// (perhaps decided while the run still ran) is refused and records
// nothing; given --seen, the person says what they decided on.
func TestResumeOfAnUnknownOutcomeNeedsSeen(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "journal.db")
	s, err := sqlite.Open(ctx, path)
	is.NoErr(err)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	is.NoErr(s.Create(ctx, journal.Run{ID: "order-1", Saga: "order", Status: journal.Paused,
		Error: durable.ErrOutcomeUnknown.Error() + `: step "ship" was running when the process driving the run stopped`},
		journal.Entry{Kind: journal.RunStarted, At: at},
		journal.Entry{Kind: journal.StepStarted, Step: "ship", Attempt: 1, At: at},
		journal.Entry{Kind: journal.RunPaused, Error: "ship: outcome unknown", At: at}))
	is.NoErr(s.Close())
	store := "--store=sqlite:" + path

	badInput(t, exitBadState, "run order-1 paused on the unknown outcome of a step that is not idempotent", nil, store, "resume", "order-1")
	badInput(t, exitBadState, "give --seen 3", nil, store, "retry", "order-1", "ship")
	is.Equal(newestOf(t, store, "order-1"), "3") // nothing recorded
	is.True(strings.Contains(ok(t, store, "inspect", "order-1"), "then resume or retry it with --seen 3"))

	ok(t, store, "resume", "order-1", "--seen", "3", "--note", "no parcel left: ship it")
	is.Equal(newestOf(t, store, "order-1"), "4") // the request
}

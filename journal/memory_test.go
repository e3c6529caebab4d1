package journal_test

import (
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/journaltest"
)

func TestMemoryConformance(t *testing.T) {
	journaltest.Run(t, func(t *testing.T, now func() time.Time) journal.Store {
		return journal.NewMemory(journal.WithClock(now))
	})
}

func TestMemoryFillsEntryTime(t *testing.T) {
	is := is.New(t)
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	m := journal.NewMemory(journal.WithClock(func() time.Time { return at }))
	is.NoErr(m.Create(t.Context(), journal.Run{ID: "r", Status: journal.Running}, journal.Entry{Kind: journal.RunStarted}))
	r, es, err := m.Load(t.Context(), "r")
	is.NoErr(err)
	is.True(es[0].At.Equal(at))
	is.Equal(es[0].At.Location(), time.UTC) // kept in UTC
	is.True(r.Created.Equal(at))
	is.Equal(es[0].Seq, int64(1))
}

func TestMemoryBadInput(t *testing.T) {
	is := is.New(t)
	m := journal.NewMemory()
	ctx := t.Context()
	is.NoErr(m.Create(ctx, journal.Run{ID: "r", Status: journal.Running}))
	is.True(m.Renew(ctx, "r", "w", 0) != nil)          // non-positive ttl
	is.True(m.Renew(ctx, "", "w", time.Second) != nil) // empty ID
	_, err := m.Claim(ctx, "w", -time.Second, 1)       // non-positive ttl
	is.True(err != nil)
	is.True(m.Release(ctx, "r", "") != nil) // empty owner
	is.True(m.Request(ctx, "", journal.Request{Verb: journal.Resume}) != nil)
	is.NoErr(m.Close())
	is.True(m.Close() != nil) // closed twice
}

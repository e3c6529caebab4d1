package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sagakit/sagakit/dashboard"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

var statusCycle = []journal.Status{journal.Succeeded, journal.Succeeded, journal.Succeeded, journal.Compensated, journal.Paused, journal.Failed, journal.Running}

// fill creates n runs of 3 entries in store, a tenth of a second apart.
func fill(b *testing.B, store journal.Store, n int) {
	ctx := context.Background()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			id := fmt.Sprintf("run-%06d", i)
			st := statusCycle[i%len(statusCycle)]
			err := store.Create(ctx, journal.Run{ID: id, Saga: "order", Fingerprint: "fp", Status: st, State: []byte(`{"n":1}`)},
				journal.Entry{Kind: journal.RunStarted, At: base.Add(time.Duration(i) * 100 * time.Millisecond)},
				journal.Entry{Kind: journal.StepStarted, Step: "reserve", Attempt: 1, At: base.Add(time.Duration(i)*100*time.Millisecond + time.Millisecond)},
				journal.Entry{Kind: journal.StepSucceeded, Step: "reserve", Attempt: 1, Attempts: 1, At: base.Add(time.Duration(i)*100*time.Millisecond + 2*time.Millisecond)})
			if err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
}

func benchPage(b *testing.B, store journal.Store, path string) {
	h := dashboard.Handler(store, dashboard.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 {
			b.Fatalf("GET %s: %d", path, rec.Code)
		}
	}
}

var (
	sqliteOnce  sync.Once
	sqliteStore *sqlite.Store
)

// store100k is a SQLite journal of 100,000 runs, made once per process.
func store100k(b *testing.B) journal.Store {
	sqliteOnce.Do(func() {
		dir, err := filepath.Abs(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		s, err := sqlite.Open(context.Background(), filepath.Join(dir, "runs.db"))
		if err != nil {
			b.Fatal(err)
		}
		fill(b, s, 100000)
		sqliteStore = s
	})
	return sqliteStore
}

// BenchmarkList100k renders the first page of the list, with the
// counts, over a SQLite journal of 100,000 runs.
func BenchmarkList100k(b *testing.B) {
	store := store100k(b)
	for _, c := range []struct{ name, path string }{
		{"first", "/"},
		{"paused", "/?status=paused"},
		{"deep", "/?before=" + fmt.Sprint(base.Add(5000*time.Second).UnixNano()) + "_run-050000"},
		{"search", "/?q=run-09999"},
	} {
		b.Run(c.name, func(b *testing.B) { benchPage(b, store, c.path) })
	}
}

// BenchmarkRun1000Steps renders the page of a run of 1,000 steps.
func BenchmarkRun1000Steps(b *testing.B) {
	j := newJournal(b)
	j.create("big", "big", "fp-big", 0, `{"n":1}`)
	for i := range 1000 {
		s := fmt.Sprintf("step-%04d", i)
		j.step("big", 1+2*i, journal.StepStarted, s, "")
		j.step("big", 2+2*i, journal.StepSucceeded, s, "")
	}
	j.end("big", 3000, journal.Succeeded, "")
	benchPage(b, j.store, "/runs/big")
}

package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/sqlite"
)

// Fuzz targets of the SQLite store on damaged files. Their seeds are in
// testdata/fuzz and below; plain `go test` runs them, and
//
//	go test -run '^$' -fuzz FuzzOpenCorrupt -fuzztime 45s ./journal/sqlite
//
// looks for more.

var (
	templateOnce sync.Once
	templateDB   []byte
	templateErr  error
)

// template returns the bytes of a small valid journal: runs in several
// statuses, with entries, a request, a wait, signals and a plan.
func template(t *testing.T) []byte {
	t.Helper()
	templateOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sagakit-fuzz-")
		if err != nil {
			templateErr = err
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "journal.db")
		if templateErr = writeTemplate(path); templateErr == nil {
			templateDB, templateErr = os.ReadFile(path)
		}
	})
	if templateErr != nil {
		t.Fatal(templateErr)
	}
	return templateDB
}

func writeTemplate(path string) (err error) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	at := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	lease := time.Now().Add(time.Hour)
	snap := []byte(`{"ID":"o1","Items":["book"]}`)
	msg := "card declined"
	steps := func(names ...string) []journal.Entry {
		var es []journal.Entry
		for k, n := range names {
			es = append(es,
				journal.Entry{Kind: journal.StepStarted, Step: n, Attempt: 1, At: at.Add(time.Duration(2*k) * time.Second)},
				journal.Entry{Kind: journal.StepSucceeded, Step: n, Attempt: 1, Attempts: 1, State: snap, At: at.Add(time.Duration(2*k+1) * time.Second)})
		}
		return es
	}
	start := journal.Entry{Kind: journal.RunStarted, State: snap, At: at}
	for _, err := range []error{
		s.SavePlan(ctx, journal.Plan{Fingerprint: "fp-order", Saga: "order", Steps: []journal.PlanStep{
			{Name: "reserve", Kind: "compensatable"}, {Name: "charge", Kind: "pivot", After: []string{"reserve"}},
			{Name: "ship", Kind: "retriable", After: []string{"charge"}},
		}}),
		// Succeeded.
		s.Create(ctx, journal.Run{ID: "order-1", Saga: "order", Fingerprint: "fp-order", Status: journal.Running, State: snap,
			LeaseOwner: "w", LeaseExpiry: lease}, append([]journal.Entry{start}, steps("reserve", "charge", "ship")...)...),
		s.Append(ctx, "order-1", "w", journal.Update{Status: journal.Succeeded, Ended: true},
			journal.Entry{Kind: journal.RunEnded, Status: journal.Succeeded, At: at.Add(time.Minute)}),
		// Paused on a failure, with a resume request.
		s.Create(ctx, journal.Run{ID: "order-2", Saga: "order", Fingerprint: "fp-order", Status: journal.Running, State: snap,
			LeaseOwner: "w", LeaseExpiry: lease}, append([]journal.Entry{start}, steps("reserve")...)...),
		s.Append(ctx, "order-2", "w", journal.Update{Status: journal.Paused, Error: &msg},
			journal.Entry{Kind: journal.StepStarted, Step: "charge", Attempt: 1, At: at},
			journal.Entry{Kind: journal.StepFailed, Step: "charge", Attempt: 1, Attempts: 3, Error: msg, At: at},
			journal.Entry{Kind: journal.RunPaused, Error: msg, At: at}),
		s.Release(ctx, "order-2", "w"),
		s.Request(ctx, "order-2", journal.Request{Verb: journal.Resume, Note: "card fixed"}),
		// Waiting for an event, which has come, and a timer.
		s.Create(ctx, journal.Run{ID: "pay-1", Saga: "pay", Fingerprint: "fp-pay", Status: journal.Running, State: snap,
			LeaseOwner: "w", LeaseExpiry: lease}, start, journal.Entry{Kind: journal.StepStarted, Step: "confirm", Attempt: 1, At: at}),
		s.Append(ctx, "pay-1", "w", journal.Update{Status: journal.Waiting, Wait: &journal.WaitFor{Event: "paid", For: time.Hour}},
			journal.Entry{Kind: journal.StepWaiting, Step: "confirm", Attempt: 1, Note: "paid", At: at}),
		s.Release(ctx, "pay-1", "w"),
		// Pending, never driven.
		s.Create(ctx, journal.Run{ID: "order-3", Saga: "order", Fingerprint: "fp-order", Status: journal.Pending, State: snap}, start),
	} {
		if err != nil {
			return err
		}
	}
	if _, err := s.Signal(ctx, "pay-1", journal.Signal{Event: "paid", Payload: []byte(`{"amount":12}`), Delivery: "d-1"}); err != nil {
		return err
	}
	_, err = s.Signal(ctx, "order-3", journal.Signal{Event: "other", Payload: []byte(`"x"`)})
	return err
}

// FuzzOpenCorrupt opens the store on a damaged file — any bytes, or the
// template journal with bytes flipped or cut off — and, if it opens,
// reads and writes it: every call returns an error or a result, never a
// panic or a hang.
func FuzzOpenCorrupt(f *testing.F) {
	f.Add(byte(0), []byte{})
	f.Add(byte(0), []byte("SQLite format 3\x00"))
	f.Add(byte(0), []byte("not a database at all, just some text"))
	f.Add(byte(1), []byte{})                               // the template as it is
	f.Add(byte(1), []byte{0, 0, 18, 0xff, 0, 0, 19, 0xff}) // the WAL version bytes
	f.Add(byte(1), []byte{0, 0, 60, 0x01})                 // user_version: newer than the code
	f.Add(byte(1), []byte{0, 0, 28, 0x40})                 // the database size
	f.Add(byte(1), []byte{0, 0x10, 0x10, 0x55, 0, 0x20, 0x08, 0x0f, 0, 0x30, 0x30, 0x80})
	f.Add(byte(2), []byte{0x00, 0x10, 0x00})  // cut off within the first pages
	f.Add(byte(2), []byte{0x00, 0x00, 0x64})  // cut off within the header
	f.Add(byte(2), []byte{0x00, 0x0f, 0xff})  // cut off one byte short of a page
	f.Add(byte(3), []byte("SQLite format 3")) // the template's first page, then these bytes
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		tmpl := template(t)
		var file []byte
		switch mode % 4 {
		case 0: // any bytes
			file = data
		case 1: // the template, bytes flipped: 3 bytes of offset, 1 of mask each
			file = bytes.Clone(tmpl)
			for k := 0; k+3 < len(data); k += 4 {
				off := (int(data[k])<<16 | int(data[k+1])<<8 | int(data[k+2])) % len(file)
				file[off] ^= data[k+3]
			}
		case 2: // the template, cut off
			n := 0
			if len(data) >= 3 {
				n = int(data[0])<<16 | int(data[1])<<8 | int(data[2])
			}
			file = tmpl[:n%len(tmpl)]
		case 3: // the template's first page, then any bytes
			file = append(bytes.Clone(tmpl[:min(4096, len(tmpl))]), data...)
		}
		path := filepath.Join(tempDir(t), "journal.db")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		bounded(t, func(ctx context.Context) {
			s, err := sqlite.Open(ctx, path, sqlite.WithBusyTimeout(200*time.Millisecond))
			if err != nil {
				if err.Error() == "" {
					t.Error("an error that says nothing")
				}
				return
			}
			use(ctx, t, s)
			_ = s.Close()
		})
	})
}

// FuzzCorruptRows opens the template journal with one value of a run, an
// entry, a signal or a plan replaced by any value of any type (as a bad
// migration or a hand edit might leave it): loading, listing, claiming,
// inspecting and recovering its runs returns an error or a result, never
// a panic.
func FuzzCorruptRows(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(0), int64(0), "", []byte(nil))
	f.Add(uint8(1), uint8(3), uint8(1), int64(0), "bogus", []byte(nil))     // an entry's kind
	f.Add(uint8(1), uint8(4), uint8(2), int64(math.MinInt64), "", []byte{}) // an entry's time
	f.Add(uint8(1), uint8(2), uint8(2), int64(math.MaxInt64), "", []byte{}) // an entry's attempt
	f.Add(uint8(1), uint8(6), uint8(3), int64(0), "", []byte("{not json"))  // an entry's snapshot
	f.Add(uint8(5), uint8(1), uint8(1), int64(0), "ghost", []byte(nil))     // an entry of no run
	f.Add(uint8(0), uint8(3), uint8(1), int64(0), "12abc", []byte(nil))     // a run's time, as text
	f.Add(uint8(0), uint8(2), uint8(3), int64(0), "", []byte(nil))          // a run's state, NULL
	f.Add(uint8(0), uint8(7), uint8(1), int64(0), "waiting", []byte(nil))   // a run's status
	f.Add(uint8(2), uint8(1), uint8(4), int64(0), "", []byte{0xff, 0xfe})   // a signal's payload
	f.Add(uint8(3), uint8(0), uint8(2), int64(0), "[{\"name\":1}]", []byte(nil))
	f.Add(uint8(3), uint8(0), uint8(3), int64(0), "", []byte("null"))
	f.Fuzz(func(t *testing.T, table, column, kind uint8, n int64, text string, blob []byte) {
		path := filepath.Join(tempDir(t), "journal.db")
		if err := os.WriteFile(path, template(t), 0o600); err != nil {
			t.Fatal(err)
		}
		tables := []struct {
			name    string
			columns []string
			rows    []string // one row each; every row too
		}{
			{"runs", []string{"id", "saga", "state", "created", "ended", "lease_expiry", "wait_until", "status", "request_verb", "fingerprint", "wait_woken"},
				[]string{"id = 'order-1'", "id = 'order-2'", "id = 'pay-1'", "id = 'order-3'"}},
			{"entries", []string{"seq", "run_id", "attempt", "kind", "at", "step", "state", "status", "verb"},
				[]string{"run_id = 'order-1' AND seq = 1", "run_id = 'order-1' AND seq = 3", "run_id = 'order-2' AND seq = 5", "run_id = 'pay-1' AND seq = 3"}},
			{"signals", []string{"id", "payload", "event", "consumed", "at", "delivery"}, []string{"id = 1", "id = 2"}},
			{"plans", []string{"steps", "fingerprint", "saga"}, nil},
		}
		tb := tables[int(table)%len(tables)]
		col := tb.columns[int(column)%len(tb.columns)]
		where := ""
		if k := int(table) / len(tables) % (len(tb.rows) + 1); k < len(tb.rows) {
			where = " WHERE " + tb.rows[k]
		}
		var v any
		switch kind % 6 {
		case 0:
			v = nil
		case 1:
			v = text
		case 2:
			v = n
		case 3:
			v = blob
		case 4:
			v = float64(n) / 3
		case 5:
			v = math.Inf(int(n % 2))
		}
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(`UPDATE `+tb.name+` SET `+col+` = ?`+where, v)
		db.Close()
		if err != nil {
			return // a constraint refused the value
		}
		bounded(t, func(ctx context.Context) {
			s, err := sqlite.Open(ctx, path, sqlite.WithBusyTimeout(200*time.Millisecond))
			if err != nil {
				return
			}
			use(ctx, t, s)
			runs, _ := s.List(ctx, journal.Filter{})
			for _, r := range runs {
				_, _ = durable.Inspect(ctx, s, r.ID)
			}
			// An engine that knows no saga sets the runs it claims aside.
			_, _ = durable.NewEngine(s, durable.WithOwner("fuzz")).Recover(ctx, 0)
			for _, r := range runs {
				_, _ = durable.Inspect(ctx, s, r.ID)
			}
			_ = s.Close()
		})
	})
}

// use reads and writes an open store as workers and tools do.
func use(ctx context.Context, t *testing.T, s *sqlite.Store) {
	t.Helper()
	runs, err := s.List(ctx, journal.Filter{})
	if err != nil {
		runs = []journal.Run{{ID: "order-1", Fingerprint: "fp-order"}, {ID: "pay-1"}}
	}
	_, _ = s.List(ctx, journal.Filter{Status: []journal.Status{journal.Paused, journal.Waiting}, Saga: "order", Limit: 2,
		CreatedAfter: time.Unix(0, 1), CreatedBefore: time.Now().Add(time.Hour)})
	for _, r := range runs {
		_, _, _ = s.Load(ctx, r.ID)
		_, _ = s.Signals(ctx, r.ID)
		_, _ = s.LoadPlan(ctx, r.Fingerprint)
	}
	claimed, _ := s.Claim(ctx, "fuzz", time.Minute, 10)
	for _, r := range claimed {
		_ = s.Append(ctx, r.ID, "fuzz", journal.Update{Status: journal.Paused},
			journal.Entry{Kind: journal.RunPaused, At: time.Now()})
		_ = s.Release(ctx, r.ID, "fuzz")
	}
	_ = s.Create(ctx, journal.Run{ID: "new", Saga: "order", Status: journal.Pending}, journal.Entry{Kind: journal.RunStarted})
	_ = s.Request(ctx, "order-1", journal.Request{Verb: journal.Abandon, Note: "fuzz"})
	_, _ = s.Signal(ctx, "pay-1", journal.Signal{Event: "paid", Payload: []byte(`1`), Delivery: "d-2"})
	_ = s.SavePlan(ctx, journal.Plan{Fingerprint: "fp-new", Saga: "new"})
	_, _ = s.Acquire(ctx, "order-3", "fuzz", time.Minute)
}

// tempDir is t.TempDir without the '#' of a fuzz test's name, which
// Open refuses in a path.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sagakit-fuzz-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// bounded runs fn, failing the test if it takes more than a minute: a
// damaged file must not make the store hang. fn must not call t.Fatal.
func bounded(t *testing.T, fn func(ctx context.Context)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the store still works on the damaged file after a minute: it hangs")
	}
}

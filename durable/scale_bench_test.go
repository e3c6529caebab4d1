package durable_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/internal/runid"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// scaleState is a state of a chosen size: Blob's bytes, and N, which
// every step changes.
type scaleState struct {
	N    int
	Blob string
}

// scaleSaga has n steps, each of which changes the state.
func scaleSaga(n int) *saga.Saga[scaleState] {
	b := saga.New[scaleState]().Name("scale")
	for i := range n {
		b.Step("step"+strconv.Itoa(i), func(_ context.Context, s *scaleState) error {
			s.N = i + 1
			return nil
		}, func(context.Context, *scaleState) error { return nil })
	}
	return b.Build()
}

// snapshotBytes counts the snapshot bytes a store is asked to write: the
// entries' states, the header's at creation and in updates.
type snapshotBytes struct {
	journal.Store
	n atomic.Int64
}

func (s *snapshotBytes) Create(ctx context.Context, run journal.Run, entries ...journal.Entry) error {
	s.n.Add(int64(len(run.State) + entryBytes(entries)))
	return s.Store.Create(ctx, run, entries...)
}

func (s *snapshotBytes) Append(ctx context.Context, id, owner string, u journal.Update, entries ...journal.Entry) error {
	s.n.Add(int64(len(u.State) + entryBytes(entries)))
	return s.Store.Append(ctx, id, owner, u, entries...)
}

func entryBytes(entries []journal.Entry) int {
	n := 0
	for _, e := range entries {
		n += len(e.State)
	}
	return n
}

// runScale runs runs of sg over a state of blob bytes, one at a time, on
// SQLite, and reports the time and the snapshot bytes per step.
func runScale(b *testing.B, sg *saga.Saga[scaleState], blob int) {
	store := &snapshotBytes{Store: openSQLite(b)}
	d, err := durable.Register(durable.NewEngine(store), sg)
	if err != nil {
		b.Fatal(err)
	}
	pad := strings.Repeat("x", blob)
	for b.Loop() {
		st := scaleState{Blob: pad}
		if _, err := d.Run(context.Background(), &st); err != nil {
			b.Fatal(err)
		}
	}
	steps := float64(b.N * sg.Plan().Len())
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/steps, "ns/step")
	b.ReportMetric(float64(store.n.Load())/steps, "B/step")
}

// BenchmarkScaleSteps runs one saga at a time of 10, 100 and 1000 steps,
// each changing a small state, on SQLite: the cost of a step (ns/step)
// must not grow with the number of steps before it.
func BenchmarkScaleSteps(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { runScale(b, scaleSaga(n), 100) })
	}
}

// BenchmarkScaleState runs one 5-step saga at a time whose steps each
// change a state of 1 KiB or 100 KiB, on SQLite, and reports the time and
// the snapshot bytes journaled per step; raw-<size> writes the encoded
// state in plain SQL once per commit, with the commits the library makes
// (6 per run): the ratio is what journaling a state costs over writing
// its bytes. (The library writes the state 8 times per run: the header
// and the run's start at creation, each step's end, the header at the
// end.)
func BenchmarkScaleState(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes int
	}{{"1KiB", 1 << 10}, {"100KiB", 100 << 10}} {
		b.Run(size.name, func(b *testing.B) { runScale(b, scaleSaga(5), size.bytes) })
		b.Run("raw-"+size.name, func(b *testing.B) {
			snap, err := json.Marshal(scaleState{N: 5, Blob: strings.Repeat("x", size.bytes)})
			if err != nil {
				b.Fatal(err)
			}
			c := openSQLiteChain(b, snap)
			for b.Loop() {
				c.stateWrites(b, runid.New(time.Now()), 6)
			}
			steps := float64(b.N * 5)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/steps, "ns/step")
			b.ReportMetric(float64(6*len(snap)*b.N)/steps, "B/step")
		})
	}
}

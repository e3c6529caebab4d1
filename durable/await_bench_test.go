package durable_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// parkedRuns is how many runs BenchmarkParked10k parks.
const parkedRuns = 10_000

// BenchmarkParked10k starts 10,000 runs whose step waits for an event,
// lets one engine's Work drive them all to their wait, and reports what
// the waiting runs cost the process: the goroutines and the heap (after
// a GC) once they all wait, less those of the idle worker before they
// were started. A waiting run holds no goroutine; the heap of the memory
// store includes the journals it keeps. An iteration (ns/op) starts and
// parks the 10,000 runs, in seconds: run it with -benchtime=1x.
func BenchmarkParked10k(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) journal.Store
	}{
		{"memory", func(*testing.B) journal.Store { return journal.NewMemory() }},
		{"sqlite", openSQLite},
		{"postgres", func(b *testing.B) journal.Store { _, worker := openPostgres(b); return worker }},
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			var goroutines, heap float64
			for b.Loop() {
				goroutines, heap = parkMany(b, s.open(b))
			}
			b.ReportMetric(goroutines, "goroutines-delta")
			b.ReportMetric(heap, "heap-MB-delta")
			b.ReportMetric(parkedRuns/(b.Elapsed().Seconds()/float64(b.N)), "parked-runs/s")
		})
	}
}

// parkMany parks parkedRuns runs on store and returns the goroutines
// and the heap, in MB, they add to the process.
func parkMany(b *testing.B, store journal.Store) (goroutines, heapMB float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sg := saga.New[benchState]().Name("parked").
		Step("wait", func(ctx context.Context, s *benchState) error {
			p, err := durable.Await[string](ctx, "paid", 24*time.Hour)
			s.PaymentID = p
			return err
		}, nil).
		Build()
	e := durable.NewEngine(store, durable.WithConcurrency(64))
	d, err := durable.Register(e, sg)
	if err != nil {
		b.Fatal(err)
	}
	wctx, stopWork := context.WithCancel(ctx)
	worked := make(chan error, 1)
	go func() { worked <- e.Work(wctx, 10*time.Millisecond) }()
	defer func() {
		stopWork()
		<-worked
	}()
	time.Sleep(100 * time.Millisecond) // the worker's first, empty claim; its wake-ups listen
	g0, h0 := settled()

	ids := make([]string, parkedRuns)
	for k := range ids {
		ids[k] = fmt.Sprintf("parked-%05d", k)
	}
	if err := fanOutIDs(ids, 64, func(id string) error {
		st := newState()
		_, err := d.Start(saga.WithRunID(ctx, id), &st)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	// All wait, and none is leased: no driver holds them any more.
	for {
		runs, err := store.List(ctx, journal.Filter{Status: []journal.Status{journal.Waiting}})
		if err != nil {
			b.Fatal(err)
		}
		free := 0
		for _, r := range runs {
			if r.LeaseOwner == "" {
				free++
			}
		}
		if free == parkedRuns {
			break
		}
		if ctx.Err() != nil {
			b.Fatalf("%d of %d runs wait, %d of them released: %v", len(runs), parkedRuns, free, ctx.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
	g1, h1 := settled()
	return float64(g1 - g0), float64(int64(h1)-int64(h0)) / (1 << 20)
}

// settled returns the number of goroutines, once it has stopped falling
// (drivers that released their runs are returning), and the live heap
// after a GC.
func settled() (goroutines int, heap uint64) {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			break
		}
		n = m
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapAlloc
}

// BenchmarkSignalToStep measures how long a waiting run takes to go on
// once signalled: an idle worker (Engine.Work, its next poll an hour
// away: only wake-ups count), a run parked waiting (Definition.Run
// returns once it waits, its lease released); t0 just before
// Engine.Signal, t1 when the woken step's code after Await runs. On
// SQLite the signal comes through the worker's engine (an in-process
// wake-up); on PostgreSQL through a second store and engine, as another
// replica would send it (a NOTIFY). It reports the median and the 99th
// percentile.
func BenchmarkSignalToStep(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		store := openSQLite(b)
		benchSignalToStep(b, store, store)
	})
	b.Run("postgres", func(b *testing.B) {
		front, worker := openPostgres(b)
		benchSignalToStep(b, front, worker)
	})
}

// benchSignalToStep parks runs through an engine on front and signals
// them from it, while an engine on worker (the same engine if front is
// worker) works.
func benchSignalToStep(b *testing.B, front, worker journal.Store) {
	woke := make(chan time.Time, 1)
	sg := saga.New[benchState]().Name("signal-latency").
		Step("wait", func(ctx context.Context, s *benchState) error {
			p, err := durable.Await[string](ctx, "paid", time.Hour)
			if err != nil {
				return err
			}
			woke <- time.Now()
			s.PaymentID = p
			return nil
		}, nil).
		Build()
	we := durable.NewEngine(worker, durable.WithOwner("worker"))
	d, err := durable.Register(we, sg)
	if err != nil {
		b.Fatal(err)
	}
	fe := we
	if front != worker {
		fe = durable.NewEngine(front, durable.WithOwner("front"))
		if d, err = durable.Register(fe, sg); err != nil {
			b.Fatal(err)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	worked := make(chan error, 1)
	go func() { worked <- we.Work(ctx, time.Hour) }()
	defer func() {
		stop()
		<-worked
	}()
	time.Sleep(100 * time.Millisecond) // the worker's first, empty claim; its wake-ups listen
	var lat []time.Duration
	for b.Loop() {
		st := newState()
		id := fmt.Sprintf("sig-%d", len(lat))
		if _, err := d.Run(saga.WithRunID(context.Background(), id), &st); !errors.Is(err, durable.ErrWaiting) {
			b.Fatalf("run %s: %v, want it waiting", id, err)
		}
		t0 := time.Now()
		if err := fe.Signal(context.Background(), id, "paid", "pay-1"); err != nil {
			b.Fatal(err)
		}
		select {
		case t1 := <-woke:
			lat = append(lat, t1.Sub(t0))
		case <-time.After(10 * time.Second):
			b.Fatalf("run %s: not woken 10s after its signal", id)
		}
		if _, err := fe.Wait(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

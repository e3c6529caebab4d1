package durable_test

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkFsync measures the disk's limit that durable runs live under:
// each op appends 64 bytes to a file in the benchmark's TempDir (where the
// SQLite benchmarks keep their journals) and fsyncs it. It reports the
// fsyncs per second; a journal that commits each step alone can do no
// more steps per second than that, and group commit is how concurrent
// runs do more.
func BenchmarkFsync(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "fsync"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	line := make([]byte, 64)
	line[63] = '\n'
	for b.Loop() {
		if _, err := f.Write(line); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fsync/s")
}

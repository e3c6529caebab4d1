package runid

import (
	"regexp"
	"testing"
	"time"

	"github.com/matryer/is"
)

var uuid7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewIsUUIDv7(t *testing.T) {
	is := is.New(t)
	id := New(time.Now())
	is.True(uuid7.MatchString(id)) // canonical UUIDv7 form
}

func TestNewSortsByTime(t *testing.T) {
	is := is.New(t)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	a, b := New(t0), New(t0.Add(time.Millisecond))
	is.True(a < b) // later milliseconds sort later
}

func TestNewIsUnique(t *testing.T) {
	is := is.New(t)
	now := time.Now()
	seen := map[string]bool{}
	for range 10000 {
		id := New(now)
		is.True(!seen[id]) // no repeat within the same millisecond
		seen[id] = true
	}
}

func BenchmarkNew(b *testing.B) {
	now := time.Now()
	for b.Loop() {
		_ = New(now)
	}
}

func TestFormatSharesBuffer(t *testing.T) {
	is := is.New(t)
	var buf [Len]byte
	id := Format(&buf, time.Now())
	is.True(uuid7.MatchString(id)) // canonical form
	is.Equal(id, string(buf[:]))   // the string is the buffer's bytes
}

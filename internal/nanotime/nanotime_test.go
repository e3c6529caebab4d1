package nanotime_test

import (
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/internal/nanotime"
)

func TestRoundTrip(t *testing.T) {
	is := is.New(t)
	at := time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.FixedZone("x", 3600))
	is.Equal(nanotime.Time(nanotime.From(at)), at.UTC())
	is.Equal(nanotime.From(time.Time{}), int64(0))
	is.True(nanotime.Time(0).IsZero())
	is.True(nanotime.Fits(time.Time{}))
	is.True(nanotime.Fits(at))
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	is.True(!nanotime.Fits(far))
	is.Equal(nanotime.Clamp(far), int64(1<<63-1))
	is.Equal(nanotime.Clamp(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)), int64(-1<<63+1))
	is.Equal(nanotime.Clamp(at), at.UnixNano())
}

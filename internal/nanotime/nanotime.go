// Package nanotime encodes times as the journal stores on disk keep them:
// Unix nanoseconds in UTC, 0 for the zero time, exact within the years
// 1678 to 2262.
package nanotime

import "time"

var (
	minTime = time.Unix(0, -1<<63+1)
	maxTime = time.Unix(0, 1<<63-1)
)

// From returns t in Unix nanoseconds, 0 for the zero time.
func From(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Fits reports whether t can be stored: the zero time, or a time within
// the range of Unix nanoseconds.
func Fits(t time.Time) bool {
	return t.IsZero() || !t.Before(minTime) && !t.After(maxTime)
}

// Clamp is From for bounds (of a filter, say), which may lie outside the
// range: they are moved to its nearest end.
func Clamp(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return minTime.UnixNano()
	case t.After(maxTime):
		return maxTime.UnixNano()
	}
	return t.UnixNano()
}

// Time returns the time of ns Unix nanoseconds, in UTC; the zero time for 0.
func Time(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

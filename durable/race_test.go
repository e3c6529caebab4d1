//go:build race

package durable_test

// raceEnabled reports whether the race detector is on: it makes the
// SQLite engine (C translated to Go) several times slower, so the
// stress tests run fewer runs.
const raceEnabled = true

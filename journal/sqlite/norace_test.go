//go:build !race

package sqlite_test

// raceEnabled reports whether the race detector is on: it makes SQLite
// several times slower, so the stress tests run fewer rounds.
const raceEnabled = false

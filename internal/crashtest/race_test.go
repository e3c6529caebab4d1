//go:build unix && race

package crashtest

// drainRuns is how many runs TestFleetDrain starts. The race detector
// makes SQLite (pure Go) several times slower, so under it the test
// drains fewer runs, to stay within its time budget on a small machine;
// without it, the full backlog (norace_test.go).
const drainRuns = 200

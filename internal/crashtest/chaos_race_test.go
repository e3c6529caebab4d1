//go:build unix && race

package crashtest

// chaosShortRuns is how many runs per store the short chaos campaign
// starts, the one plain go test runs (SAGAKIT_CHAOS_RUNS sets another):
// fewer under the race detector, which makes SQLite several times slower
// (chaos_norace_test.go).
const chaosShortRuns = 120

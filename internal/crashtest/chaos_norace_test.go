//go:build unix && !race

package crashtest

// chaosShortRuns is how many runs per store the short chaos campaign
// starts (fewer under the race detector: see chaos_race_test.go).
const chaosShortRuns = 300

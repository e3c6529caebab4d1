//go:build unix && !race

package crashtest

// drainRuns is how many runs TestFleetDrain starts (fewer under the race
// detector: see race_test.go).
const drainRuns = 2000

//go:build unix

package crashtest

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if they leave goroutines running.
// A child process (the test binary run by a crash or fleet test, see
// childEnv) is not checked: it dies at its plan's point, or exits from
// its test, with its workers mid-flight on purpose.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

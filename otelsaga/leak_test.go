package otelsaga_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if they leave goroutines running:
// hooks, stores and propagators must not start any of their own, and a
// test's SDK providers must be shut down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

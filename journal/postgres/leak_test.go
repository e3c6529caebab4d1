package postgres_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if they leave goroutines running.
// The pool the tests share (sharedPool) lives as long as they do: it is
// closed once they have run, before the check.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(closingPool{m})
}

// closingPool runs the tests, then closes the shared pool.
type closingPool struct{ m *testing.M }

func (c closingPool) Run() int {
	code := c.m.Run()
	if pool != nil {
		pool.Close()
	}
	return code
}

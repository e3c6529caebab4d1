package retry_test

import (
	"strings"
	"testing"

	"github.com/sagakit/sagakit/retry"
)

// String never panics, whatever the value: unknown ones are spelled out
// (kills the off-by-one mutants `make mutate` found alive).
func TestStringOutOfRange(t *testing.T) {
	for v := range 256 {
		_ = retry.Reason(v).String()
		_ = retry.Jitter(v).String()
	}
	if s := retry.Reason(200).String(); !strings.Contains(s, "200") {
		t.Errorf("Reason(200).String() = %q", s)
	}
	if s := retry.Jitter(200).String(); !strings.Contains(s, "200") {
		t.Errorf("Jitter(200).String() = %q", s)
	}
}

package exampletest

import (
	"strings"
	"testing"
)

// InOrder fails t unless out contains each of lines, in that order.
func InOrder(t testing.TB, out string, lines ...string) {
	t.Helper()
	rest := out
	for _, l := range lines {
		i := strings.Index(rest, l)
		if i < 0 {
			t.Fatalf("missing, or out of order: %q\noutput:\n%s", l, out)
		}
		rest = rest[i+len(l):]
	}
}

// Row returns the fields of step's row in the report table printed in out
// (see saga.Report.String).
func Row(t testing.TB, out, step string) []string {
	t.Helper()
	_, table, ok := strings.Cut(out, "\nSTEP ")
	if !ok {
		t.Fatalf("no report table in:\n%s", out)
	}
	for l := range strings.Lines(table) {
		if f := strings.Fields(l); len(f) > 0 && f[0] == step {
			return f
		}
	}
	t.Fatalf("no row for step %q in:\n%s", step, out)
	return nil
}

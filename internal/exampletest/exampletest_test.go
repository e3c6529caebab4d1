package exampletest

import (
	"testing"

	"github.com/matryer/is"
)

func TestInOrderAndRow(t *testing.T) {
	is := is.New(t)
	out := "a\nb\n\nSTEP  STATUS\nx     failed\n"
	InOrder(t, out, "a", "b")
	is.Equal(Row(t, out, "x"), []string{"x", "failed"})
}

package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func TestRun(t *testing.T) {
	is := is.New(t)
	var buf bytes.Buffer
	is.NoErr(run(&buf))
	out := buf.String()

	simple, failure, filtered := section(out, "Simple example"), section(out, "Failure example:"), section(out, "Failure example, filtered")
	is.True(strings.Contains(simple, "status: succeeded\n  counter: [40 50]\n"))
	is.True(strings.Contains(failure, "decrement counter[0] by 30: [10 20]"))
	is.True(strings.Contains(failure, "status: compensated\n  counter: [10 20]\n"))
	is.True(!strings.Contains(filtered, "decrement"))
	is.True(strings.Contains(filtered, "status: failed\n  counter: [40 20]\n"))
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name         string
		failing      bool
		compensateOn func(error) bool
		want         Counter
		wantErr      error
	}{
		{"success", false, isOSError, Counter{40, 50}, nil},
		{"failure compensated", true, nil, Counter{10, 20}, errOccurred},
		{"failure not matched by the filter", true, isOSError, Counter{40, 20}, errOccurred},
		{"failure matched by the filter", true, func(err error) bool { return errors.Is(err, errOccurred) }, Counter{10, 20}, errOccurred},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c, err := scenario(io.Discard, tt.name, counterSaga(io.Discard, tt.failing, tt.compensateOn))
			is.Equal(c, tt.want)
			is.True(errors.Is(err, tt.wantErr))
		})
	}
}

func TestIsOSError(t *testing.T) {
	is := is.New(t)
	is.True(isOSError(&fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}))
	is.True(!isOSError(errOccurred))
}

// section returns the part of out from the line starting with title to
// the next blank line.
func section(out, title string) string {
	_, s, ok := strings.Cut(out, title)
	if !ok {
		return ""
	}
	s, _, _ = strings.Cut(s, "\n\n")
	return s + "\n"
}

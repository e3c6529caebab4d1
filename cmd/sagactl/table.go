package main

import (
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sagakit/sagakit/journal"
)

// table writes rows in aligned columns, two spaces apart; cells may be
// colored without upsetting the alignment.
type table struct {
	rows   [][]string
	colors [][]string // an ANSI color per cell, "" for none
}

func (t *table) add(cells ...string) {
	t.rows = append(t.rows, cells)
	t.colors = append(t.colors, nil)
}

// addColored adds a row whose cell i is colored colors[i].
func (t *table) addColored(colors []string, cells ...string) {
	t.rows = append(t.rows, cells)
	t.colors = append(t.colors, colors)
}

func (t *table) write(w io.Writer, color bool) {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for k, r := range t.rows {
		for len(r) > 1 && r[len(r)-1] == "" {
			r = r[:len(r)-1] // no trailing blanks
		}
		for i, c := range r {
			last := i == len(r)-1
			if color && k < len(t.colors) && i < len(t.colors[k]) && t.colors[k][i] != "" {
				b.WriteString(t.colors[k][i] + c + reset)
			} else {
				b.WriteString(c)
			}
			if !last {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteString("\n")
	}
	_, _ = io.WriteString(w, b.String())
}

// ANSI colors.
const (
	reset   = "\x1b[0m"
	bold    = "\x1b[1m"
	red     = "\x1b[31m"
	boldRed = "\x1b[1;31m"
	green   = "\x1b[32m"
	yellow  = "\x1b[33m"
	blue    = "\x1b[34m"
	magenta = "\x1b[35m"
	cyan    = "\x1b[36m"
	grey    = "\x1b[90m"
)

// statusColor is the color of a run's or a step's status.
func statusColor(s string) string {
	switch s {
	case string(journal.Succeeded), string(journal.Resolved):
		return green
	case string(journal.Compensated), "not_compensated":
		return yellow
	case string(journal.Paused), string(journal.Blocked):
		return magenta
	case string(journal.Failed), "cancelled":
		return red
	case string(journal.CompensationFailed):
		return boldRed
	case string(journal.Running), string(journal.Pending), string(journal.Compensating):
		return cyan
	case string(journal.Waiting):
		return blue
	case string(journal.Abandoned), "pending_step":
		return grey
	}
	return ""
}

// paint colors s when color is on.
func paint(color bool, c, s string) string {
	if !color || c == "" {
		return s
	}
	return c + s + reset
}

// stamp formats a time for a person: UTC, to the millisecond.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

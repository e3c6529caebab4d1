package runview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sagakit/sagakit/journal"
)

// AmbiguousError is returned by [Find] when a run ID prefix matches
// several runs.
type AmbiguousError struct {
	Prefix  string
	Matches []string // the matching run IDs, sorted; at most maxMatches
	Count   int      // how many runs match
}

const maxMatches = 5

// Error names the prefix and the runs it matches.
func (e *AmbiguousError) Error() string {
	s := fmt.Sprintf("run ID prefix %q matches %d runs: %s", e.Prefix, e.Count, strings.Join(e.Matches, ", "))
	if e.Count > len(e.Matches) {
		s += fmt.Sprintf(", and %d more", e.Count-len(e.Matches))
	}
	return s
}

// Find returns the ID of the run whose ID is id, or else of the one run
// whose ID starts with id. It fails with an error matching
// [journal.ErrNotFound] when no run matches, and with an
// [*AmbiguousError] when several do.
func Find(ctx context.Context, store journal.Store, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("%w: empty run ID", journal.ErrNotFound)
	}
	_, _, err := store.Load(ctx, id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, journal.ErrNotFound) {
		return "", err
	}
	runs, err := store.List(ctx, journal.Filter{})
	if err != nil {
		return "", err
	}
	var matches []string
	for _, r := range runs {
		if strings.HasPrefix(r.ID, id) {
			matches = append(matches, r.ID)
		}
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("%w: no run has the ID %q or an ID that starts with it", journal.ErrNotFound, id)
	case 1:
		return matches[0], nil
	}
	slices.Sort(matches)
	return "", &AmbiguousError{Prefix: id, Matches: matches[:min(len(matches), maxMatches)], Count: len(matches)}
}

package runview

import (
	"context"
	"time"

	"github.com/sagakit/sagakit/journal"
)

// Query selects runs for [List]. Zero fields select everything.
type Query struct {
	Status []journal.Status
	Saga   string
	// Since keeps the runs created at or after it.
	Since time.Time
	// Limit caps the number of rows; 0 means no limit.
	Limit int
	// Now is the time ages are measured to; zero means time.Now().
	Now time.Time
}

// Row is one run in a list. Its JSON field names are stable (see the
// package documentation).
type Row struct {
	ID     string         `json:"id"`
	Saga   string         `json:"saga"`
	Status journal.Status `json:"status"`
	// Step is the step the run stands at: the one that failed (or whose
	// compensation failed) for a run that did not end well, the one
	// running, waiting or being compensated for an unfinished run; ""
	// for a run that succeeded or never started a step.
	Step  string `json:"step,omitempty"`
	Error string `json:"error,omitempty"`
	// Started is when the run started; Ended when it ended (omitted
	// while it has not).
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// AgeMS is the time since the run started, to the query's Now, and
	// DurationMS how long it took (up to its last activity while it
	// runs), in milliseconds.
	AgeMS      float64  `json:"age_ms"`
	DurationMS float64  `json:"duration_ms"`
	Lease      *Lease   `json:"lease,omitempty"`
	Request    *Request `json:"request,omitempty"`
	Wait       *Wait    `json:"wait,omitempty"`
}

// List returns a row for each run matching q, newest first.
func List(ctx context.Context, store journal.Store, q Query) ([]Row, error) {
	runs, err := store.List(ctx, journal.Filter{Status: q.Status, Saga: q.Saga, CreatedAfter: q.Since, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	kept := runs[:0]
	for _, h := range runs {
		if q.Since.IsZero() || !h.Created.Before(q.Since) {
			kept = append(kept, h)
		}
	}
	return Rows(ctx, store, kept, q.Now)
}

// Rows returns the list row of each of runs, headers store.List
// returned, in their order, reading each run's journal for the step it
// stands at; ages are measured to now (zero means time.Now()). It is
// [List] for a caller that selects the runs itself (a page of a
// dashboard, after a keyset).
func Rows(ctx context.Context, store journal.Store, runs []journal.Run, now time.Time) ([]Row, error) {
	if now.IsZero() {
		now = time.Now()
	}
	rows := make([]Row, 0, len(runs))
	for _, h := range runs {
		// The header has no step: the journal does.
		_, entries, err := store.Load(ctx, h.ID)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row(h, entries, now))
	}
	return rows, nil
}

// row makes the list row of a run.
func row(h journal.Run, entries []journal.Entry, now time.Time) Row {
	r := Row{ID: h.ID, Saga: h.Saga, Status: h.Status, Error: h.Error, Started: h.Created, Ended: h.Ended, Step: standsAt(h.Status, entries)}
	if h.Status.Unfinished() || h.Status == journal.Waiting {
		r.Ended = time.Time{} // it ended once, and goes on
	}
	last := h.Updated
	if len(entries) > 0 {
		r.Started, last = entries[0].At, lastOwn(entries, last)
	}
	end := r.Ended
	if end.IsZero() {
		end = last
	}
	r.DurationMS = ms(end.Sub(r.Started))
	r.AgeMS = ms(now.Sub(r.Started))
	if h.LeaseOwner != "" {
		r.Lease = &Lease{Owner: h.LeaseOwner, Expires: h.LeaseExpiry}
	}
	if h.Request.Verb != "" {
		r.Request = &Request{Verb: h.Request.Verb, Step: h.Request.Step, Note: h.Request.Note}
	}
	if h.Status == journal.Waiting {
		r.Wait = &Wait{Event: h.Wait.Event, Until: h.Wait.Until, Woken: h.Wait.Woken, Due: h.Wait.Due}
	}
	return r
}

// standsAt returns the step a run in status stands at (see Row.Step).
func standsAt(status journal.Status, entries []journal.Entry) string {
	switch status {
	case journal.Succeeded, journal.Resolved:
		return ""
	case journal.Pending, journal.Running, journal.Compensating, journal.Waiting:
		return lastStep(entries, func(journal.Kind) bool { return true })
	case journal.CompensationFailed:
		if s := lastStep(entries, func(k journal.Kind) bool { return k == journal.CompFailed }); s != "" {
			return s
		}
	}
	if s := lastStep(entries, func(k journal.Kind) bool { return k == journal.StepFailed }); s != "" {
		return s
	}
	return lastStep(entries, func(journal.Kind) bool { return true })
}

// lastStep returns the step of the newest step entry whose kind is ok.
func lastStep(entries []journal.Entry, ok func(journal.Kind) bool) string {
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Step != "" && e.Kind != journal.RequestMade && e.Kind != journal.RequestCarriedOut && ok(e.Kind) {
			return e.Step
		}
	}
	return ""
}

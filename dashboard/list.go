package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/runview"
)

// statuses are the run statuses, in the order the counts show them.
var statuses = []journal.Status{
	journal.Pending, journal.Running, journal.Compensating, journal.Waiting, journal.Paused,
	journal.Failed, journal.CompensationFailed, journal.Blocked,
	journal.Succeeded, journal.Compensated, journal.Resolved, journal.Abandoned,
}

// scanCap bounds the runs one page of an ID search reads: past it, the
// page offers to search on.
const scanCap = 10000

// query is the list's filters and position, from the URL.
type query struct {
	Status []journal.Status
	Saga   string
	Age    string // as given: 2h, 7d
	Search string
	since  time.Time
	cursor *cursor
}

// cursor is a keyset position: the runs after it in the store's order
// (created, then ID, descending).
type cursor struct {
	created time.Time
	id      string
}

func (c *cursor) String() string { return strconv.FormatInt(c.created.UnixNano(), 10) + "_" + c.id }

func parseCursor(s string) (*cursor, error) {
	n, id, ok := strings.Cut(s, "_")
	ns, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, errors.New("the page position (before) is not one this dashboard made")
	}
	return &cursor{created: time.Unix(0, ns).UTC(), id: id}, nil
}

// parseQuery reads the list's filters; its errors are for the person.
func parseQuery(v url.Values, now time.Time) (query, error) {
	var q query
	for _, s := range v["status"] {
		for p := range strings.SplitSeq(s, ",") {
			st := journal.Status(strings.TrimSpace(p))
			if st == "" {
				continue
			}
			if !slices.Contains(statuses, st) {
				return q, fmt.Errorf("unknown status %q", p)
			}
			if !slices.Contains(q.Status, st) {
				q.Status = append(q.Status, st)
			}
		}
	}
	q.Saga = strings.TrimSpace(v.Get("saga"))
	q.Search = strings.TrimSpace(v.Get("q"))
	if q.Age = strings.TrimSpace(v.Get("age")); q.Age != "" {
		d, err := parseAge(q.Age)
		if err != nil {
			return q, err
		}
		q.since = now.Add(-d)
	}
	if b := v.Get("before"); b != "" {
		c, err := parseCursor(b)
		if err != nil {
			return q, err
		}
		q.cursor = c
	}
	return q, nil
}

// parseAge reads an age: a duration (90s, 2h) or a number of days (7d).
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n < 100000 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("age %q: want a duration such as 90s, 2h or 7d", s)
	}
	return d, nil
}

// values returns q as URL values, the cursor aside.
func (q query) values() url.Values {
	v := url.Values{}
	for _, s := range q.Status {
		v.Add("status", string(s))
	}
	if q.Saga != "" {
		v.Set("saga", q.Saga)
	}
	if q.Age != "" {
		v.Set("age", q.Age)
	}
	if q.Search != "" {
		v.Set("q", q.Search)
	}
	return v
}

// Count is the number of runs in a status.
type Count struct {
	Status journal.Status `json:"status"`
	N      int            `json:"n"`
	// More: there are more than N (counting stops at a cap).
	More bool `json:"more,omitempty"`
}

// listData is the list page's data, and its JSON.
type listData struct {
	Counts  []Count       `json:"counts"`
	Rows    []runview.Row `json:"rows"`
	Next    string        `json:"next,omitempty"` // the URL of the next page
	Scanned int           `json:"scanned,omitempty"`
	// Partial: an ID search stopped after scanning scanCap runs; Next
	// searches on.
	Partial bool   `json:"partial,omitempty"`
	Version string `json:"version"`

	Query    query            `json:"-"`
	Statuses []journal.Status `json:"-"`
	Filtered bool             `json:"-"`
	First    string           `json:"-"` // the URL of the first page, when not on it
	Now      time.Time        `json:"-"`
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	d, code, msg := h.listData(r)
	if code == http.StatusSeeOther {
		seeOther(w, msg)
		return
	}
	if code != 0 {
		if code == http.StatusBadGateway {
			h.storeFailed(w, r, errors.New(msg))
			return
		}
		h.fail(w, r, code, msg)
		return
	}
	poll := "api/runs"
	if enc := r.URL.RawQuery; enc != "" {
		poll += "?" + enc
	}
	h.render(w, http.StatusOK, "list", page{Title: "Runs", Base: "./", Poll: int(h.poll / time.Millisecond), PollURL: poll, Version: d.Version, Data: d})
}

func (h *handler) listJSON(w http.ResponseWriter, r *http.Request) {
	d, code, msg := h.listData(r)
	if code == http.StatusSeeOther {
		writeJSON(w, 0, "", map[string]string{"run": msg}) // the search names a run
		return
	}
	writeJSON(w, code, msg, d)
}

// listData reads the list; on failure it returns a status code and a
// message (a redirect's target for 303).
func (h *handler) listData(r *http.Request) (*listData, int, string) {
	ctx := r.Context()
	now := h.now()
	q, err := parseQuery(r.URL.Query(), now)
	if err != nil {
		return nil, http.StatusBadRequest, "Bad filter: " + err.Error() + "."
	}
	d := &listData{Query: q, Statuses: statuses, Now: now, Filtered: len(q.Status) > 0 || q.Saga != "" || q.Age != "" || q.Search != ""}
	if q.Search != "" && q.cursor == nil {
		if _, _, err := h.store.Load(ctx, q.Search); err == nil {
			return nil, http.StatusSeeOther, runURL(q.Search)
		}
	}
	if d.Counts, err = h.counts(ctx); err != nil {
		return nil, http.StatusBadGateway, err.Error()
	}
	runs, next, err := h.page(ctx, q, d)
	if err != nil {
		return nil, http.StatusBadGateway, err.Error()
	}
	if d.Rows, err = runview.Rows(ctx, h.store, runs, now); err != nil {
		return nil, http.StatusBadGateway, err.Error()
	}
	if next != nil {
		v := q.values()
		v.Set("before", next.String())
		d.Next = "?" + v.Encode()
	}
	if q.cursor != nil {
		d.First = "?" + q.values().Encode()
	}
	d.Version = d.version()
	return d, 0, ""
}

// counts counts the runs in each status, up to h.countCap each: a
// bounded read of each status's index.
func (h *handler) counts(ctx context.Context) ([]Count, error) {
	out := make([]Count, 0, len(statuses))
	for _, st := range statuses {
		runs, err := h.store.List(ctx, journal.Filter{Status: []journal.Status{st}, Limit: h.countCap + 1})
		if err != nil {
			return nil, err
		}
		c := Count{Status: st, N: len(runs)}
		if c.N > h.countCap {
			c.N, c.More = h.countCap, true
		}
		out = append(out, c)
	}
	return out, nil
}

// page reads the runs of the page q asks for, and the cursor of the next
// page, if there is one.
func (h *handler) page(ctx context.Context, q query, d *listData) ([]journal.Run, *cursor, error) {
	f := journal.Filter{Status: q.Status, Saga: q.Saga}
	if !q.since.IsZero() {
		f.CreatedAfter = q.since.Add(-time.Nanosecond) // created at or after it
	}
	want := h.pageSize + 1 // one more says there is a next page
	batch := want
	search := strings.ToLower(q.Search)
	if search != "" {
		batch = 500
	}
	var out []journal.Run
	cur := q.cursor
	for len(out) < want {
		runs, err := h.after(ctx, f, cur, batch)
		if err != nil {
			return nil, nil, err
		}
		for _, run := range runs {
			d.Scanned++
			cur = &cursor{created: run.Created, id: run.ID}
			if search == "" || strings.Contains(strings.ToLower(run.ID), search) {
				out = append(out, run)
				if len(out) == want {
					break
				}
			}
		}
		if len(runs) < batch {
			break // the end
		}
		if search != "" && d.Scanned >= scanCap && len(out) < want {
			d.Partial = true
			return out, cur, nil
		}
	}
	if search == "" {
		d.Scanned = 0
	}
	if len(out) == want {
		last := out[h.pageSize-1]
		return out[:h.pageSize], &cursor{created: last.Created, id: last.ID}, nil
	}
	return out, nil, nil
}

// after returns up to n runs matching f that come after c in the
// store's order (all from the first when c is nil). The store's filter
// has no keyset on (created, id): it reads those created up to c's
// instant, and skips those of that instant at or before c.
func (h *handler) after(ctx context.Context, f journal.Filter, c *cursor, n int) ([]journal.Run, error) {
	if c == nil {
		f.Limit = n
		return h.store.List(ctx, f)
	}
	f.CreatedBefore = c.created.Add(time.Nanosecond)
	for extra := 16; ; extra *= 4 {
		f.Limit = n + extra
		runs, err := h.store.List(ctx, f)
		if err != nil {
			return nil, err
		}
		i := 0
		for i < len(runs) && runs[i].Created.Equal(c.created) && runs[i].ID >= c.id {
			i++
		}
		if i < extra || len(runs) < f.Limit {
			runs = runs[i:]
			return runs[:min(len(runs), n)], nil
		}
	}
}

// version sums up what the list shows, ages aside, for the poller.
func (d *listData) version() string {
	hs := fnv.New64a()
	for _, c := range d.Counts {
		fmt.Fprintf(hs, "%s=%d,", c.Status, c.N)
	}
	for _, r := range d.Rows {
		fmt.Fprintf(hs, "|%s %s %s %q", r.ID, r.Status, r.Step, r.Error)
		if r.Request != nil {
			fmt.Fprintf(hs, " req %s %s", r.Request.Verb, r.Request.Step)
		}
		if r.Lease != nil {
			fmt.Fprintf(hs, " lease %s", r.Lease.Owner)
		}
	}
	return strconv.FormatUint(hs.Sum64(), 36)
}

// writeJSON writes v, or an error object with code.
func writeJSON(w http.ResponseWriter, code int, msg string, v any) {
	w.Header().Set("Content-Type", "application/json")
	if code != 0 {
		if code == http.StatusBadGateway {
			msg = "the journal could not be read"
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

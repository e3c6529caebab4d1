package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/runview"
)

// runData is the run page's data.
type runData struct {
	Run      *runview.Run
	State    string // pretty JSON, or a note on bytes of another codec
	Graph    *svg
	Timeline *svg
	Actions  *actions // nil: no action offered
	Now      time.Time
}

// actions are the forms of the operator actions on a run page.
type actions struct {
	CSRF string
	URL  string
	// Seen is the Seq of the newest journal entry the page shows: each
	// form posts it, and the request is refused if the run has gone on
	// since (journal.Request.Seen).
	Seen  int64
	Verbs []verbForm
	Steps []stepChoice // for retry
	// Why: why none is offered (the run has ended, a request is pending).
	Why string
}

// stepChoice is a step in the retry form's list; Selected marks the one
// an operator most likely means: the step that stopped the run.
type stepChoice struct {
	Name     string
	Selected bool
}

type verbForm struct {
	Verb      journal.Verb
	Label     string
	NeedsNote bool
}

// inspect reads a run, with the Seq of its newest journal entry (0 for
// none), writing the 404 or 502 page when it cannot (the run is nil
// then).
func (h *handler) inspect(w http.ResponseWriter, r *http.Request, asJSON bool) (*runview.Run, int64) {
	id := r.PathValue("id")
	// The view's LastSeq comes from the same read as the view: it is the
	// Seq of what the page shows.
	run, err := runview.Inspect(r.Context(), h.store, id, runview.Options{})
	switch {
	case errors.Is(err, journal.ErrNotFound):
		msg := fmt.Sprintf("There is no run %q in the journal.", id)
		if asJSON {
			writeJSON(w, http.StatusNotFound, msg, nil)
		} else {
			h.fail(w, r, http.StatusNotFound, msg)
		}
		return nil, 0
	case err != nil:
		if asJSON {
			h.logger.Error("dashboard: reading the journal", "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusBadGateway, "", nil)
		} else {
			h.storeFailed(w, r, err)
		}
		return nil, 0
	}
	return run, run.LastSeq
}

func (h *handler) run(w http.ResponseWriter, r *http.Request) {
	run, seq := h.inspect(w, r, false)
	if run == nil {
		return
	}
	d := runData{Run: run, Now: h.now()}
	switch {
	case len(run.State) > 0:
		var b bytes.Buffer
		if json.Indent(&b, run.State, "", "  ") == nil {
			d.State = b.String()
		} else {
			d.State = string(run.State)
		}
	case len(run.StateBytes) > 0:
		d.State = fmt.Sprintf("(%d bytes of another codec than JSON)", len(run.StateBytes))
	}
	d.Graph = graphSVG(run)
	d.Timeline = timelineSVG(run.Timeline())
	if h.authorize != nil && h.authorize(r) {
		d.Actions = h.actionsFor(w, r, run, seq)
	}
	b := base(r.URL.Path)
	h.render(w, http.StatusOK, "run", page{
		Title: "Run " + run.ID, Base: b, Poll: int(h.poll / time.Millisecond),
		PollURL: b + "api/" + runURL(run.ID), Version: runVersion(run, seq), Data: d,
	})
}

// runJSON is the run's view (runview's JSON) with its version, which
// the run page polls.
func (h *handler) runJSON(w http.ResponseWriter, r *http.Request) {
	run, seq := h.inspect(w, r, true)
	if run == nil {
		return
	}
	writeJSON(w, 0, "", struct {
		Version string       `json:"version"`
		Run     *runview.Run `json:"run"`
	}{runVersion(run, seq), run})
}

// runVersion sums up what the run page shows, for the poller: seq is the
// Seq of the run's newest journal entry.
func runVersion(run *runview.Run, seq int64) string {
	hs := fnv.New64a()
	fmt.Fprintf(hs, "%s|%d|%s|%d|%d|%s", run.Status, seq, run.LastActivity.Format(time.RFC3339Nano), len(run.Notes), len(run.Signals), run.Error)
	if run.Request != nil {
		fmt.Fprintf(hs, "|req %s %s", run.Request.Verb, run.Request.Step)
	}
	if run.Lease != nil {
		fmt.Fprintf(hs, "|lease %s", run.Lease.Owner)
	}
	return strconv.FormatUint(hs.Sum64(), 36)
}

package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/runview"
)

// csrfCookie holds the random value a CSRF token is the HMAC of.
const csrfCookie = "sagakit_csrf"

var verbForms = []verbForm{
	{Verb: journal.Resume, Label: "Resume"},
	{Verb: journal.RetryStep, Label: "Retry step"},
	{Verb: journal.Compensate, Label: "Compensate"},
	{Verb: journal.Resolve, Label: "Resolve", NeedsNote: true},
	{Verb: journal.Abandon, Label: "Abandon", NeedsNote: true},
}

// token returns the CSRF token of the cookie value v.
func (h *handler) token(v string) string {
	m := hmac.New(sha256.New, h.secret)
	m.Write([]byte("csrf\x00" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrf returns the CSRF token of r's browser, setting its cookie first
// when it has none.
func (h *handler) csrf(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 16 {
		return h.token(c.Value)
	}
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	return h.token(v)
}

// csrfOK reports whether r carries the token of its cookie, and comes
// from this origin when it says where it comes from.
func (h *handler) csrfOK(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) < 16 {
		return false
	}
	return hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(h.token(c.Value)))
}

// actionsFor returns the forms offered on run's page, which shows the
// run's journal up to the entry seq. The forms of a run that moves on
// its own (pending, running, compensating) name no entry: its journal
// grows with every step, and stopping it is not a decision about one
// state of it.
func (h *handler) actionsFor(w http.ResponseWriter, r *http.Request, run *runview.Run, seq int64) *actions {
	a := &actions{CSRF: h.csrf(w, r), URL: base(r.URL.Path) + runURL(run.ID) + "/request", Seen: seq}
	switch run.Status {
	case journal.Pending, journal.Running, journal.Compensating:
		a.Seen = 0
	}
	switch {
	case run.Status.Final():
		a.Why = "The run " + run.Status.Phrase() + ": no request moves it."
		return a
	case run.Request != nil:
		a.Why = "A " + requestText(run.Request.Verb, run.Request.Step) + " request is pending: a worker has yet to carry it out."
		return a
	}
	for _, v := range verbForms {
		if run.Status == journal.Waiting && (v.Verb == journal.Resume || v.Verb == journal.RetryStep) {
			continue
		}
		a.Verbs = append(a.Verbs, v)
	}
	a.Steps = stepChoices(run.Steps)
	return a
}

// retryFirst ranks the statuses of a step an operator retries: the one
// that failed, then one cancelled beside it, then one left running with
// an unknown outcome.
var retryFirst = []string{"failed", "cancelled", "running"}

// stepChoices lists steps for the retry form, the step that stopped the
// run selected (none when no step did: the browser shows the first).
func stepChoices(steps []runview.Step) []stepChoice {
	c := make([]stepChoice, len(steps))
	for i, s := range steps {
		c[i].Name = s.Name
	}
	for _, status := range retryFirst {
		for i, s := range steps {
			if s.Status == status {
				c[i].Selected = true
				return c
			}
		}
	}
	return c
}

// confirmData is the confirmation page's data.
type confirmData struct {
	RunID  string
	Status journal.Status
	Verb   journal.Verb
	Label  string
	Step   string
	Note   string
	CSRF   string
	URL    string
	Back   string
	Seen   int64 // the newest journal entry the run page showed; 0: none named
}

// request records an operator request, after a confirmation page.
func (h *handler) request(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if h.authorize == nil {
		h.fail(w, r, http.StatusForbidden, "This dashboard is read-only: actions are not enabled.")
		return
	}
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if !h.csrfOK(r) {
		h.fail(w, r, http.StatusForbidden, "The form's security token is missing or stale: reload the run's page and try again.")
		return
	}
	if !h.authorize(r) {
		h.fail(w, r, http.StatusForbidden, "You are not allowed to act on runs.")
		return
	}
	i := slices.IndexFunc(verbForms, func(v verbForm) bool { return string(v.Verb) == r.PostFormValue("verb") })
	if i < 0 {
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("Unknown action %q.", r.PostFormValue("verb")))
		return
	}
	v := verbForms[i]
	seen, ok := parseSeen(r.PostFormValue("seen"))
	if !ok {
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("The form's journal entry number %q is not a number: reload the run's page and try again.", r.PostFormValue("seen")))
		return
	}
	req := journal.Request{Verb: v.Verb, Note: strings.TrimSpace(r.PostFormValue("note")), Seen: seen}
	if v.Verb == journal.RetryStep {
		req.Step = r.PostFormValue("step")
	}
	if v.NeedsNote && req.Note == "" {
		h.fail(w, r, http.StatusBadRequest, v.Label+" needs a note: say why, for the journal.")
		return
	}
	run, seq := h.inspect(w, r, false)
	if run == nil {
		return
	}
	if msg := refusal(run, req); msg != "" {
		h.fail(w, r, http.StatusConflict, msg)
		return
	}
	// The decision was made on the run as its page showed it: a run that
	// has gone on since is not the one the operator decided on.
	if seen != 0 && seen != seq {
		h.stale(w, r, run.ID)
		return
	}
	if v.Verb == journal.RetryStep {
		if _, ok := run.Step(req.Step); !ok {
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("Run %s has no step %q.", run.ID, req.Step))
			return
		}
	}
	back := base(r.URL.Path) + runURL(run.ID)
	if r.PostFormValue("confirm") != "yes" {
		h.render(w, http.StatusOK, "confirm", page{Title: "Confirm: " + v.Label, Base: base(r.URL.Path), Data: confirmData{
			RunID: run.ID, Status: run.Status, Verb: v.Verb, Label: v.Label, Step: req.Step, Note: req.Note,
			CSRF: r.PostFormValue("csrf"), URL: back + "/request", Back: back, Seen: seen,
		}})
		return
	}
	err := h.store.Request(r.Context(), run.ID, req)
	switch {
	case errors.Is(err, journal.ErrFinal):
		h.fail(w, r, http.StatusConflict, "Run "+run.ID+" has ended: there is nothing to "+string(v.Verb)+".")
		return
	case errors.Is(err, journal.ErrPending):
		h.fail(w, r, http.StatusConflict, "Run "+run.ID+" has another request pending: a worker has yet to carry it out.")
		return
	case errors.Is(err, journal.ErrStale):
		h.stale(w, r, run.ID)
		return
	case errors.Is(err, journal.ErrNotFound):
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("There is no run %q in the journal.", run.ID))
		return
	case err != nil:
		h.storeFailed(w, r, err)
		return
	}
	h.logger.Info("dashboard: request recorded", "run", run.ID, "verb", req.Verb, "step", req.Step)
	seeOther(w, back)
}

// parseSeen reads a form's seen field: the Seq of the newest journal
// entry the run page showed. A missing or empty field is 0, which asks
// for no check (a form from an older page, or a hand-made request).
func parseSeen(s string) (int64, bool) {
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// stale writes the 409 page of a request decided on a run that has
// changed since, with a link back to the run's page.
func (h *handler) stale(w http.ResponseWriter, r *http.Request, runID string) {
	h.failRun(w, r, http.StatusConflict, "Run "+runID+" has changed since you looked at it (a worker or another person acted on it): nothing was recorded. Review it and ask again.", runID)
}

// refusal says why req cannot be recorded on run now, as sagactl does;
// "" if it can.
func refusal(run *runview.Run, req journal.Request) string {
	switch {
	case run.Status.Final():
		return "Run " + run.ID + " " + run.Status.Phrase() + ": there is nothing to " + string(req.Verb) + "."
	case run.Request != nil:
		return "Run " + run.ID + " has a " + requestText(run.Request.Verb, run.Request.Step) + " request pending: a worker has yet to carry it out."
	case run.Status == journal.Waiting && (req.Verb == journal.Resume || req.Verb == journal.RetryStep):
		return "Run " + run.ID + " waits: signal it, or compensate or abandon it."
	}
	return ""
}

func requestText(v journal.Verb, step string) string {
	if v == journal.RetryStep {
		return "retry of " + step
	}
	return string(v)
}

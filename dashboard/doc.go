// Package dashboard serves durable saga runs to a browser: an
// [http.Handler] a service mounts under a prefix, and that
// `sagactl serve` serves for a journal file or database.
//
// # Model
//
// The dashboard reads a [journal.Store] through the read models of
// package runview, the same the sagactl CLI prints: one place for what a
// run looks like, two renderings. It runs no saga code. Its pages:
//
//   - the runs list: counts per status, filters (status, saga, age, a
//     search on run IDs), newest first, a page at a time (keyset
//     pagination on the store's order: created, then ID, descending);
//   - a run page: header, error, pending request, state as pretty JSON,
//     every step (status, executions, attempts, start offset, duration,
//     error, compensation), the operators' notes, the graph colored by
//     outcome and the timeline.
//
// Both are plain HTML built with html/template, which escapes what the
// journal holds (a state holding <script> renders as text). The graph
// and the timeline are drawn on the server as SVG: the graph's steps are
// boxes in rows by level (a step's level is one more than the highest of
// the steps it runs after; a sequential saga's are its declaration
// order), arrows from each step to those that follow it; the timeline is
// a Gantt chart of bars, one per action and compensation, on the run's
// clock. Past 300 steps the graph is left out (the steps table says it
// all), and past 1,000 bars the timeline is.
//
// Pages update live: an embedded script polls the page's JSON (the same
// URL under api/) every few seconds and reloads the page when what it
// shows has changed, unless the operator is typing in a form. Without
// JavaScript the pages work and stay still.
//
// # Mounting
//
//	mux := http.NewServeMux()
//	mux.Handle("/sagas/", http.StripPrefix("/sagas", dashboard.Handler(store)))
//	http.ListenAndServe("127.0.0.1:8080", mux)
//
// Links are relative, so the handler works under any prefix.
//
// # Safety
//
// The handler is read-only unless [AllowActions] enables the operator
// actions (resume, retry a step, compensate, resolve, abandon) with an
// authorization check the embedding service supplies. An action is a
// POST carrying a CSRF token (an HMAC, under a secret of the handler, of
// a random value in an HttpOnly, SameSite=Strict cookie), checked with
// the authorization; a POST from another origin is refused, and so is
// one without the token (403). It is confirmed on a second page before
// it is recorded, with [journal.Store.Request] as sagactl records it:
// the next worker that claims the run carries it out, and the run page
// shows it pending, then its outcome among the notes. Resolve and
// abandon need a note.
//
// An action is a decision about the run as its page showed it: the form
// names the newest journal entry the page showed (journal.Request.Seen),
// and the action is refused with 409, recording nothing, once the run
// has gone on since (a worker carried it on, another operator acted on
// it): the operator reviews the run and decides anew. The forms of a run
// that moves on its own (pending, running, compensating) name none, and
// neither does a form without that field: no such check.
//
// Every response carries a Content-Security-Policy allowing only the
// handler's own assets (no inline script or style), frame denial
// (X-Frame-Options and frame-ancestors), X-Content-Type-Options nosniff
// and Referrer-Policy no-referrer. Every asset (CSS, the polling script)
// is embedded: nothing is fetched from the network.
//
// The handler never sees a DSN; [WithStoreName] shows a name the caller
// chose for the store, which sagactl redacts.
package dashboard

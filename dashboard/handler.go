package dashboard

import (
	"bytes"
	"crypto/rand"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/runview"
)

//go:embed assets templates
var files embed.FS

// Option configures a [Handler].
type Option func(*config)

type config struct {
	authorize func(*http.Request) bool // nil: read-only
	pageSize  int
	countCap  int
	poll      time.Duration
	now       func() time.Time
	storeName string
	logger    *slog.Logger
}

// AllowActions enables the operator actions, for the requests authorize
// accepts: it is called on every action (and on every run page, to show
// the actions' forms or not). Without it the handler is read-only, and
// an action is refused with 403. It panics if authorize is nil.
func AllowActions(authorize func(*http.Request) bool) Option {
	if authorize == nil {
		panic("dashboard: AllowActions with a nil authorize function")
	}
	return func(c *config) { c.authorize = authorize }
}

// WithPageSize sets the number of runs on a page of the list (default
// 50). It panics unless 1 <= n <= 1000.
func WithPageSize(n int) Option {
	if n < 1 || n > 1000 {
		panic("dashboard: page size out of [1, 1000]")
	}
	return func(c *config) { c.pageSize = n }
}

// WithPolling sets how often the pages poll for changes (default 3s);
// 0 turns live updates off.
func WithPolling(d time.Duration) Option {
	return func(c *config) { c.poll = max(d, 0) }
}

// WithStoreName shows name as the store's on every page. Give no
// password: sagactl gives its redacted DSN.
func WithStoreName(name string) Option {
	return func(c *config) { c.storeName = name }
}

// WithClock makes the handler read the time from now (ages are measured
// to it), for tests.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithLogger logs the store's errors to l (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// handler is the dashboard. It is safe for concurrent use.
type handler struct {
	config
	store  journal.Store
	secret []byte // the CSRF tokens' HMAC key
	pages  map[string]*template.Template
	mux    *http.ServeMux
}

// Handler returns the dashboard of store's runs. It is read-only unless
// [AllowActions] is given. Mount it under a prefix with
// [http.StripPrefix].
func Handler(store journal.Store, opts ...Option) http.Handler {
	if store == nil {
		panic("dashboard: Handler with a nil store")
	}
	h := &handler{store: store, config: config{pageSize: 50, countCap: 1000, poll: 3 * time.Second, now: time.Now, logger: slog.Default()}}
	for _, o := range opts {
		o(&h.config)
	}
	h.secret = make([]byte, 32)
	_, _ = rand.Read(h.secret) // never fails (crypto/rand)
	h.pages = map[string]*template.Template{}
	for _, p := range []string{"list", "run", "confirm", "error"} {
		h.pages[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+p+".html"))
	}
	assets, _ := fs.Sub(files, "assets")
	h.mux = http.NewServeMux()
	h.mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	h.mux.HandleFunc("GET /{$}", h.list)
	h.mux.HandleFunc("GET /api/runs", h.listJSON)
	h.mux.HandleFunc("GET /runs/{id}", h.run)
	h.mux.HandleFunc("GET /api/runs/{id}", h.runJSON)
	h.mux.HandleFunc("POST /runs/{id}/request", h.request)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.fail(w, r, http.StatusMethodNotAllowed, "This page takes no "+r.Method+" request.")
			return
		}
		h.fail(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	return h
}

// ServeHTTP sets the security headers and serves r.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	if !strings.HasPrefix(r.URL.Path, "/assets/") {
		hd.Set("Cache-Control", "no-store")
	}
	h.mux.ServeHTTP(w, r)
}

// page is what every page's layout shows.
type page struct {
	Title     string
	Base      string // the relative path to the handler's root: "./", "../"
	StoreName string
	Poll      int    // milliseconds between polls; 0 for none
	PollURL   string // the JSON polled
	Version   string // the version of what the page shows
	Data      any
}

// render writes the page named name with status code.
func (h *handler) render(w http.ResponseWriter, code int, name string, p page) {
	p.StoreName = h.storeName
	if p.PollURL == "" {
		p.Poll = 0
	}
	var b bytes.Buffer
	if err := h.pages[name].Execute(&b, p); err != nil {
		h.logger.Error("dashboard: rendering a page", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

// errorPage is the data of the error page.
type errorPage struct {
	Code    int
	Status  string
	Message string
	RunID   string // the run the page links back to; "" for none
	RunURL  string
}

// fail writes the error page.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	h.render(w, code, "error", page{Title: http.StatusText(code), Base: base(r.URL.Path), Data: errorPage{Code: code, Status: http.StatusText(code), Message: msg}})
}

// failRun writes the error page with a link back to the page of the run
// runID.
func (h *handler) failRun(w http.ResponseWriter, r *http.Request, code int, msg, runID string) {
	b := base(r.URL.Path)
	h.render(w, code, "error", page{Title: http.StatusText(code), Base: b, Data: errorPage{
		Code: code, Status: http.StatusText(code), Message: msg, RunID: runID, RunURL: b + runURL(runID),
	}})
}

// storeFailed logs a store error and writes a 502 page that does not
// repeat it (it may name the store).
func (h *handler) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	h.logger.Error("dashboard: reading the journal", "path", r.URL.Path, "err", err)
	if r.Context().Err() != nil {
		return
	}
	h.fail(w, r, http.StatusBadGateway, "The journal could not be read; the server's log says why.")
}

// base returns the relative path from the page at path to the root.
func base(path string) string {
	n := strings.Count(strings.TrimPrefix(path, "/"), "/")
	if n == 0 {
		return "./"
	}
	return strings.Repeat("../", n)
}

var funcs = template.FuncMap{
	"millis": runview.Millis,
	"under":  func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05.000Z")
	},
	"runURL": runURL,
	"has":    func(list []journal.Status, s journal.Status) bool { return slices.Contains(list, s) },
}

// runURL is the path of a run's page, from the root.
func runURL(id string) string { return "runs/" + url.PathEscape(id) }

// seeOther redirects to the relative URL to (http.Redirect would make it
// absolute, losing the prefix the handler is mounted under).
func seeOther(w http.ResponseWriter, to string) {
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusSeeOther)
}

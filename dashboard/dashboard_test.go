package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sagakit/sagakit/dashboard"
	"github.com/sagakit/sagakit/journal"
)

var base = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func at(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }

const owner = "worker-1"

// journalOf is a memory store whose clock the test sets.
type journalOf struct {
	t     testing.TB
	store *journal.Memory
	now   time.Time
}

func newJournal(t testing.TB) *journalOf {
	j := &journalOf{t: t, now: base}
	j.store = journal.NewMemory(journal.WithClock(func() time.Time { return j.now }))
	return j
}

func (j *journalOf) plan(saga, fp string, steps ...string) {
	p := journal.Plan{Fingerprint: fp, Saga: saga}
	for _, s := range steps {
		name, after, _ := strings.Cut(s, ":")
		ps := journal.PlanStep{Name: name, Kind: "compensatable"}
		if after != "" {
			ps.After = strings.Split(after, ",")
		}
		p.Steps = append(p.Steps, ps)
	}
	if err := j.store.SavePlan(context.Background(), p); err != nil {
		j.t.Fatal(err)
	}
}

func (j *journalOf) create(id, saga, fp string, ms int, state string) {
	j.now = at(ms)
	err := j.store.Create(context.Background(), journal.Run{
		ID: id, Saga: saga, Fingerprint: fp, Status: journal.Running,
		State: []byte(state), LeaseOwner: owner, LeaseExpiry: at(ms + 30000),
	}, journal.Entry{Kind: journal.RunStarted, State: []byte(state), At: at(ms)})
	if err != nil {
		j.t.Fatal(err)
	}
}

func (j *journalOf) add(id string, ms int, u journal.Update, e journal.Entry) {
	j.now = at(ms)
	e.At = at(ms)
	if err := j.store.Append(context.Background(), id, owner, u, e); err != nil {
		j.t.Fatal(err)
	}
}

func (j *journalOf) step(id string, ms int, kind journal.Kind, step, errText string) {
	e := journal.Entry{Kind: kind, Step: step, Attempt: 1, Error: errText}
	if kind != journal.StepStarted {
		e.Attempts = 1
	}
	j.add(id, ms, journal.Update{}, e)
}

func (j *journalOf) end(id string, ms int, status journal.Status, errText string) {
	u := journal.Update{Status: status, Ended: true, Release: true}
	if errText != "" {
		u.Error = &errText
	}
	kind := journal.RunEnded
	if status == journal.Paused {
		kind = journal.RunPaused
	}
	j.add(id, ms, u, journal.Entry{Kind: kind, Status: status, Error: errText})
}

// shop journals: order-1 succeeded, order-2 paused at charge, trip-1
// (a graph) failed, order-3 running.
func shop(t testing.TB) *journalOf {
	j := newJournal(t)
	j.plan("order", "fp-order", "reserve", "charge", "ship")
	j.plan("trip", "fp-trip", "debit", "flight:debit", "hotel:debit", "confirm:flight,hotel")
	j.create("order-1", "order", "fp-order", 0, `{"n":1}`)
	for i, s := range []string{"reserve", "charge", "ship"} {
		j.step("order-1", 10+i*20, journal.StepStarted, s, "")
		j.step("order-1", 20+i*20, journal.StepSucceeded, s, "")
	}
	j.end("order-1", 100, journal.Succeeded, "")
	j.create("order-2", "order", "fp-order", 1000, `{"n":2,"note":"<script>alert('x')</script>"}`)
	j.step("order-2", 1010, journal.StepStarted, "reserve", "")
	j.step("order-2", 1020, journal.StepSucceeded, "reserve", "")
	j.step("order-2", 1030, journal.StepStarted, "charge", "")
	j.step("order-2", 1040, journal.StepFailed, "charge", "bank down <b>503</b>")
	j.end("order-2", 1050, journal.Paused, "charge: bank down <b>503</b>")
	j.create("trip-1", "trip", "fp-trip", 2000, `{}`)
	j.step("trip-1", 2010, journal.StepStarted, "debit", "")
	j.step("trip-1", 2020, journal.StepSucceeded, "debit", "")
	j.step("trip-1", 2030, journal.StepStarted, "flight", "")
	j.step("trip-1", 2030, journal.StepStarted, "hotel", "")
	j.step("trip-1", 2060, journal.StepSucceeded, "flight", "")
	j.step("trip-1", 2070, journal.StepFailed, "hotel", "no room")
	j.end("trip-1", 2080, journal.Failed, "hotel: no room")
	j.create("order-3", "order", "fp-order", 3000, `{"n":3}`)
	j.step("order-3", 3010, journal.StepStarted, "reserve", "")
	j.now = at(4000)
	return j
}

// get fetches path from h; it returns the status, the body and the
// response.
func get(t *testing.T, h http.Handler, path string) (int, string, *http.Response) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	res := rec.Result()
	return res.StatusCode, rec.Body.String(), res
}

func handler(j *journalOf, opts ...dashboard.Option) http.Handler {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return dashboard.Handler(j.store, append([]dashboard.Option{dashboard.WithClock(func() time.Time { return at(5000) }), dashboard.WithLogger(quiet)}, opts...)...)
}

var runLink = regexp.MustCompile(`href="runs/([^"]+)"`)

// ids returns the runs a list page links to, in order.
func ids(body string) []string {
	var out []string
	for _, m := range runLink.FindAllStringSubmatch(body, -1) {
		id, _ := url.PathUnescape(m[1])
		out = append(out, id)
	}
	return out
}

func TestListNewestFirstWithCounts(t *testing.T) {
	h := handler(shop(t))
	code, body, res := get(t, h, "/")
	if code != 200 {
		t.Fatalf("GET /: %d\n%s", code, body)
	}
	if got, want := ids(body), []string{"order-3", "trip-1", "order-2", "order-1"}; !slices.Equal(got, want) {
		t.Errorf("runs %v, want %v", got, want)
	}
	for _, want := range []string{`<span class="n">1</span> paused`, `<span class="n">1</span> failed`, `<span class="n">1</span> running`, `<span class="n">1</span> succeeded`, `<span class="n">0</span> blocked`} {
		if !strings.Contains(body, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestListFilters(t *testing.T) {
	h := handler(shop(t))
	for path, want := range map[string][]string{
		"/?status=paused":                 {"order-2"},
		"/?status=paused,failed":          {"trip-1", "order-2"},
		"/?status=paused&status=running":  {"order-3", "order-2"},
		"/?saga=trip":                     {"trip-1"},
		"/?saga=order&status=succeeded":   {"order-1"},
		"/?age=3s":                        {"order-3", "trip-1"}, // created at or after 2s
		"/?age=1d":                        {"order-3", "trip-1", "order-2", "order-1"},
		"/?q=ORDER-":                      {"order-3", "order-2", "order-1"},
		"/?q=rip":                         {"trip-1"},
		"/?q=nothing":                     nil,
		"/?status=&saga=&age=&q=&before=": {"order-3", "trip-1", "order-2", "order-1"},
	} {
		code, body, _ := get(t, h, path)
		if code != 200 {
			t.Errorf("GET %s: %d", path, code)
			continue
		}
		if got := ids(body); !slices.Equal(got, want) {
			t.Errorf("GET %s: runs %v, want %v", path, got, want)
		}
	}
}

func TestSearchForARunIDOpensIt(t *testing.T) {
	code, _, res := get(t, handler(shop(t)), "/?q=order-2")
	if code != http.StatusSeeOther || res.Header.Get("Location") != "runs/order-2" {
		t.Errorf("got %d to %q, want 303 to runs/order-2", code, res.Header.Get("Location"))
	}
}

func TestBadFilterIs400(t *testing.T) {
	h := handler(shop(t))
	for _, path := range []string{"/?status=done", "/?age=yesterday", "/?age=-2h", "/?before=xyz", "/?before=12_", "/api/runs?status=nope"} {
		code, body, _ := get(t, h, path)
		if code != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", path, code)
		}
		if !strings.HasPrefix(path, "/api/") && !strings.Contains(body, "Bad filter") {
			t.Errorf("GET %s: the page does not say what is wrong:\n%s", path, body)
		}
	}
}

func TestPaginationIsKeysetNewestFirst(t *testing.T) {
	j := newJournal(t)
	var want []string
	// 23 runs, in groups created at the same instant (ties on created).
	for i := range 23 {
		id := fmt.Sprintf("run-%02d", i)
		j.create(id, "s", "fp", i/4*10, `{}`)
		want = append(want, id)
	}
	slices.SortFunc(want, func(a, b string) int { // created desc, ID desc
		var x, y int
		fmt.Sscanf(a, "run-%d", &x)
		fmt.Sscanf(b, "run-%d", &y)
		if x/4 != y/4 {
			return y/4 - x/4
		}
		return strings.Compare(b, a)
	})
	h := handler(j, dashboard.WithPageSize(5))
	var got []string
	path := "/"
	pages := 0
	for path != "" {
		code, body, _ := get(t, h, path)
		if code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
		got = append(got, ids(body)...)
		pages++
		path = ""
		if m := regexp.MustCompile(`rel="next" href="([^"]+)"`).FindStringSubmatch(body); m != nil {
			path = "/" + strings.ReplaceAll(m[1], "&amp;", "&")
		}
		if pages > 10 {
			t.Fatal("too many pages")
		}
	}
	if !slices.Equal(got, want) || pages != 5 {
		t.Errorf("%d pages of runs %v, want 5 of %v", pages, got, want)
	}
}

func TestRunPage(t *testing.T) {
	h := handler(shop(t))
	code, body, _ := get(t, h, "/runs/order-2")
	if code != 200 {
		t.Fatalf("GET run: %d\n%s", code, body)
	}
	for _, want := range []string{
		"Run <span class=\"id\">order-2</span>",
		`<span class="badge st-paused">paused</span>`,
		"charge: bank down &lt;b&gt;503&lt;/b&gt;", // the error, escaped
		"\n  &#34;n&#34;: 2,",                      // the state, pretty
		`<td data-th="Step">charge <span class="kind">compensatable</span></td>`,
		`<span class="badge st-failed">failed</span>`,
		`<svg class="graph"`, `<g class="node st-failed">`, `<g class="node st-pending">`, // ship never started
		`<svg class="timeline"`, `<g class="bar st-failed">`,
		`href="../assets/style.css"`, `data-poll="../api/runs/order-2"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	if strings.Contains(body, "Act on the run") || strings.Contains(body, "<form method=\"post\"") {
		t.Error("a read-only dashboard offers actions")
	}
}

func TestGraphOfAGraphSagaHasLevels(t *testing.T) {
	_, body, _ := get(t, handler(shop(t)), "/runs/trip-1")
	// debit on the first row, flight and hotel side by side, confirm last.
	for _, want := range []string{`<g class="node st-succeeded"><rect x="104" y="8"`, `<g class="node st-succeeded"><rect x="8" y="92"`, `<g class="node st-failed"><rect x="200" y="92"`, `<g class="node st-pending"><rect x="104" y="176"`} {
		if !strings.Contains(body, want) {
			t.Errorf("graph lacks %q", want)
		}
	}
	if n := strings.Count(body, `class="edge"`); n != 4 {
		t.Errorf("%d edges, want 4", n)
	}
}

func TestStateAndErrorsAreEscaped(t *testing.T) {
	_, body, _ := get(t, handler(shop(t)), "/runs/order-2")
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "<b>503") {
		t.Error("the page holds the journal's markup unescaped")
	}
	if !strings.Contains(body, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") {
		t.Error("the state's <script> is not shown as text")
	}
	if n := strings.Count(body, "<script"); n != 1 {
		t.Errorf("%d script tags, want the one embedded", n)
	}
}

func TestUnknownRunIs404Page(t *testing.T) {
	h := handler(shop(t))
	code, body, _ := get(t, h, "/runs/nope%3Cb%3E")
	if code != 404 || !strings.Contains(body, "404 Not Found") || !strings.Contains(body, "There is no run &#34;nope&lt;b&gt;&#34;") {
		t.Errorf("GET unknown run: %d\n%s", code, body)
	}
	if code, _, _ := get(t, h, "/api/runs/nope"); code != 404 {
		t.Errorf("GET api unknown run: %d", code)
	}
	if code, body, _ := get(t, h, "/no/such/page"); code != 404 || !strings.Contains(body, `href="../../"`) {
		t.Errorf("GET unknown page: %d\n%s", code, body)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	h := handler(shop(t))
	for _, path := range []string{"/", "/runs/order-2", "/runs/nope", "/assets/style.css", "/assets/live.js", "/api/runs", "/?status=bad"} {
		_, _, res := get(t, h, path)
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("GET %s: %s %q, want %q", path, k, got, want)
			}
		}
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
}

func TestAssetsAreEmbedded(t *testing.T) {
	h := handler(shop(t))
	for path, ct := range map[string]string{"/assets/style.css": "text/css", "/assets/live.js": "javascript"} {
		code, body, res := get(t, h, path)
		if code != 200 || len(body) < 100 || !strings.Contains(res.Header.Get("Content-Type"), ct) {
			t.Errorf("GET %s: %d, %s, %d bytes", path, code, res.Header.Get("Content-Type"), len(body))
		}
	}
	_, body, _ := get(t, h, "/")
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("the page links outside the handler")
	}
}

func TestJSONForPolling(t *testing.T) {
	j := shop(t)
	h := handler(j)
	code, body, _ := get(t, h, "/api/runs?status=paused")
	var l struct {
		Version string
		Counts  []struct{ Status string }
		Rows    []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(body), &l); code != 200 || err != nil || l.Version == "" || len(l.Rows) != 1 || l.Rows[0].ID != "order-2" || len(l.Counts) != 12 {
		t.Fatalf("GET /api/runs: %d %v %s", code, err, body)
	}
	_, body, _ = get(t, h, "/api/runs/order-2")
	var r struct {
		Version string
		Run     struct{ ID, Status string }
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Run.Status != "paused" || r.Version == "" {
		t.Fatalf("GET /api/runs/order-2: %v %s", err, body)
	}
	// A request on the run changes both versions.
	if err := j.store.Request(context.Background(), "order-2", journal.Request{Verb: journal.Resume}); err != nil {
		t.Fatal(err)
	}
	_, body2, _ := get(t, h, "/api/runs/order-2")
	var r2 struct{ Version string }
	_ = json.Unmarshal([]byte(body2), &r2)
	if r2.Version == r.Version {
		t.Error("the run's version did not change with a request")
	}
	_, lbody, _ := get(t, h, "/api/runs?status=paused")
	var l2 struct{ Version string }
	_ = json.Unmarshal([]byte(lbody), &l2)
	if l2.Version == l.Version {
		t.Error("the list's version did not change with a request")
	}
}

func TestPollingOff(t *testing.T) {
	_, body, _ := get(t, handler(shop(t), dashboard.WithPolling(0)), "/")
	if strings.Contains(body, "data-poll") {
		t.Error("polling is off, yet the page polls")
	}
}

func TestStoreName(t *testing.T) {
	_, body, _ := get(t, handler(shop(t), dashboard.WithStoreName("postgres://ops:xxxxx@db/saga")), "/")
	if !strings.Contains(body, "postgres://ops:xxxxx@db/saga") {
		t.Error("the store's name is not shown")
	}
}

func TestMountedUnderAPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/ops/sagas/", http.StripPrefix("/ops/sagas", handler(shop(t))))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, p := range []string{"/ops/sagas/", "/ops/sagas/runs/order-2", "/ops/sagas/assets/style.css", "/ops/sagas/api/runs/order-2"} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, res.StatusCode)
		}
	}
}

// browser is a client with cookies, on a test server of the handler.
type browser struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, srv: srv, c: c}
}

func (b *browser) get(path string) string {
	b.t.Helper()
	res, err := b.c.Get(b.srv.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return string(body)
}

func (b *browser) post(path string, form url.Values, header ...string) (int, string, *http.Response) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func token(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return m[1]
}

func allow(*http.Request) bool { return true }

func TestActionConfirmedIsRecordedAndShownPending(t *testing.T) {
	j := shop(t)
	b := newBrowser(t, handler(j, dashboard.AllowActions(allow)))
	page := b.get("/runs/order-2")
	for _, want := range []string{"Act on the run", `value="resume"`, `value="retry_step"`, `value="compensate"`, `value="resolve"`, `value="abandon"`, "<option>reserve</option>", "<option selected>charge</option>"} {
		if !strings.Contains(page, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	form := url.Values{"csrf": {token(t, page)}, "verb": {"retry_step"}, "step": {"charge"}, "note": {"bank is <back>"}}
	code, body, _ := b.post("/runs/order-2/request", form)
	if code != 200 || !strings.Contains(body, "Confirm: Retry step charge") || !strings.Contains(body, `name="confirm" value="yes"`) || !strings.Contains(body, "bank is &lt;back&gt;") {
		t.Fatalf("first POST: %d\n%s", code, body)
	}
	if run, _, _ := j.store.Load(context.Background(), "order-2"); run.Request.Verb != "" {
		t.Fatal("a request was recorded before it was confirmed")
	}
	form.Set("confirm", "yes")
	code, _, res := b.post("/runs/order-2/request", form)
	if code != http.StatusSeeOther || res.Header.Get("Location") != "../../runs/order-2" {
		t.Fatalf("confirmed POST: %d to %q", code, res.Header.Get("Location"))
	}
	run, entries, _ := j.store.Load(context.Background(), "order-2")
	if run.Request != (journal.Request{Verb: journal.RetryStep, Step: "charge", Note: "bank is <back>"}) {
		t.Errorf("request %+v", run.Request)
	}
	if e := entries[len(entries)-1]; e.Kind != journal.RequestMade || e.Verb != journal.RetryStep || e.Note != "bank is <back>" {
		t.Errorf("last entry %+v", e)
	}
	page = b.get("/runs/order-2")
	for _, want := range []string{"Request pending", "<strong>retry step charge</strong>", "A retry of charge request is pending", `<span class="ev ev-requested">requested</span>`} {
		if !strings.Contains(page, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	if list := b.get("/"); !strings.Contains(list, `<span class="pending">retry_step charge requested</span>`) {
		t.Error("the list does not show the pending request")
	}
	// A second request is refused while the first is pending.
	form.Set("verb", "resume")
	if code, body, _ := b.post("/runs/order-2/request", form); code != http.StatusConflict || !strings.Contains(body, "pending") {
		t.Errorf("second request: %d\n%s", code, body)
	}
}

func TestActionsRefused(t *testing.T) {
	j := shop(t)
	deny := func(r *http.Request) bool { return r.Header.Get("X-Op") == "yes" }
	b := newBrowser(t, handler(j, dashboard.AllowActions(deny)))
	// The page shows no action to those not authorized, but sets the cookie
	// for those who are.
	page := b.get("/runs/order-2")
	if strings.Contains(page, "Act on the run") {
		t.Error("actions offered to a request authorize refuses")
	}
	req, _ := http.NewRequest("GET", b.srv.URL+"/runs/order-2", nil)
	req.Header.Set("X-Op", "yes")
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	tok := token(t, string(body))
	good := url.Values{"csrf": {tok}, "verb": {"resume"}, "confirm": {"yes"}}
	for _, c := range []struct {
		name   string
		form   url.Values
		header []string
		code   int
	}{
		{"no CSRF token", url.Values{"verb": {"resume"}, "confirm": {"yes"}}, []string{"X-Op", "yes"}, 403},
		{"wrong CSRF token", url.Values{"csrf": {"AAAA" + tok[4:]}, "verb": {"resume"}, "confirm": {"yes"}}, []string{"X-Op", "yes"}, 403},
		{"another origin", good, []string{"X-Op", "yes", "Origin", "https://evil.example"}, 403},
		{"not authorized", good, nil, 403},
		{"unknown verb", url.Values{"csrf": {tok}, "verb": {"delete"}, "confirm": {"yes"}}, []string{"X-Op", "yes"}, 400},
		{"resolve without a note", url.Values{"csrf": {tok}, "verb": {"resolve"}, "note": {"  "}, "confirm": {"yes"}}, []string{"X-Op", "yes"}, 400},
		{"unknown step", url.Values{"csrf": {tok}, "verb": {"retry_step"}, "step": {"fly"}, "confirm": {"yes"}}, []string{"X-Op", "yes"}, 400},
	} {
		code, body, _ := b.post("/runs/order-2/request", c.form, c.header...)
		if code != c.code {
			t.Errorf("%s: %d, want %d\n%s", c.name, code, c.code, body)
		}
	}
	if code, _, _ := b.post("/runs/nope/request", good, "X-Op", "yes"); code != 404 {
		t.Errorf("unknown run: %d", code)
	}
	if code, body, _ := b.post("/runs/order-1/request", good, "X-Op", "yes"); code != http.StatusConflict || !strings.Contains(body, "has succeeded") {
		t.Errorf("ended run: %d\n%s", code, body)
	}
	if run, _, _ := j.store.Load(context.Background(), "order-2"); run.Request.Verb != "" {
		t.Errorf("a refused action recorded %+v", run.Request)
	}
	// And the good one goes through.
	if code, _, _ := b.post("/runs/order-2/request", good, "X-Op", "yes"); code != http.StatusSeeOther {
		t.Errorf("authorized request: %d", code)
	}
}

func TestActionsDisabledIs403(t *testing.T) {
	j := shop(t)
	b := newBrowser(t, handler(j))
	code, body, _ := b.post("/runs/order-2/request", url.Values{"verb": {"resume"}, "confirm": {"yes"}})
	if code != 403 || !strings.Contains(body, "read-only") {
		t.Errorf("POST on a read-only dashboard: %d\n%s", code, body)
	}
	if run, _, _ := j.store.Load(context.Background(), "order-2"); run.Request.Verb != "" {
		t.Error("a read-only dashboard recorded a request")
	}
	if code, _, _ := get(t, handler(j), "/runs/order-2/request"); code != 405 && code != 404 {
		t.Errorf("GET of the action: %d", code)
	}
}

func TestAbandonWithNote(t *testing.T) {
	j := shop(t)
	b := newBrowser(t, handler(j, dashboard.AllowActions(allow)))
	page := b.get("/runs/order-2")
	form := url.Values{"csrf": {token(t, page)}, "verb": {"abandon"}, "note": {"refunded by hand"}, "confirm": {"yes"}}
	if code, _, _ := b.post("/runs/order-2/request", form); code != http.StatusSeeOther {
		t.Fatalf("abandon: %d", code)
	}
	if run, _, _ := j.store.Load(context.Background(), "order-2"); run.Request != (journal.Request{Verb: journal.Abandon, Note: "refunded by hand"}) {
		t.Errorf("request %+v", run.Request)
	}
}

var seenField = regexp.MustCompile(`name="seen" value="([^"]*)"`)

// seen returns the seen field of every form in the page.
func seen(body string) []string {
	var out []string
	for _, m := range seenField.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// newest returns the Seq of the newest entry of the run's journal.
func newest(t *testing.T, j *journalOf, id string) int64 {
	t.Helper()
	_, entries, err := j.store.Load(context.Background(), id)
	if err != nil || len(entries) == 0 {
		t.Fatalf("load %s: %v, %d entries", id, err, len(entries))
	}
	return entries[len(entries)-1].Seq
}

// resumedAndPausedAgain journals what another operator's resume of
// order-2 and a worker did: the charge ran again and failed again.
func resumedAndPausedAgain(t *testing.T, j *journalOf) {
	t.Helper()
	ctx := context.Background()
	if err := j.store.Request(ctx, "order-2", journal.Request{Verb: journal.Resume, Note: "another operator"}); err != nil {
		t.Fatal(err)
	}
	if _, err := j.store.Acquire(ctx, "order-2", owner, time.Minute); err != nil {
		t.Fatal(err)
	}
	j.add("order-2", 4100, journal.Update{Status: journal.Running, ClearRequest: true}, journal.Entry{Kind: journal.RequestCarriedOut, Verb: journal.Resume})
	j.step("order-2", 4110, journal.StepStarted, "charge", "")
	j.step("order-2", 4120, journal.StepFailed, "charge", "outcome unknown: timeout")
	j.end("order-2", 4130, journal.Paused, "charge: outcome unknown: timeout")
}

// Every action form names the newest journal entry the page shows, and
// the confirmation page passes it on; a request so named is recorded.
func TestActionFormsNameTheNewestEntry(t *testing.T) {
	j := shop(t)
	b := newBrowser(t, handler(j, dashboard.AllowActions(allow)))
	page := b.get("/runs/order-2")
	want := fmt.Sprint(newest(t, j, "order-2"))
	got := seen(page)
	if len(got) != 5 || slices.ContainsFunc(got, func(s string) bool { return s != want }) {
		t.Fatalf("seen fields %q; want 5 of %s", got, want)
	}
	form := url.Values{"csrf": {token(t, page)}, "verb": {"resume"}, "seen": {want}}
	code, body, _ := b.post("/runs/order-2/request", form)
	if code != 200 || !slices.Equal(seen(body), []string{want}) {
		t.Fatalf("confirmation page: %d, seen fields %q\n%s", code, seen(body), body)
	}
	form.Set("confirm", "yes")
	if code, body, _ := b.post("/runs/order-2/request", form); code != http.StatusSeeOther {
		t.Fatalf("confirmed POST: %d\n%s", code, body)
	}
	if run, _, _ := j.store.Load(context.Background(), "order-2"); run.Request.Verb != journal.Resume {
		t.Errorf("request %+v; want a resume", run.Request)
	}
}

// A decision made on the run as it was is refused once the run has gone
// on (another operator resumed it, and it paused again), at the
// confirmation step and at the confirmed one, and records nothing.
func TestStaleRequestIsRefused(t *testing.T) {
	j := shop(t)
	b := newBrowser(t, handler(j, dashboard.AllowActions(allow)))
	page := b.get("/runs/order-2")
	form := url.Values{"csrf": {token(t, page)}, "verb": {"resume"}, "seen": {seen(page)[0]}}
	resumedAndPausedAgain(t, j)
	before := newest(t, j, "order-2")
	for _, confirm := range []string{"", "yes"} {
		form.Set("confirm", confirm)
		code, body, _ := b.post("/runs/order-2/request", form)
		if code != http.StatusConflict || !strings.Contains(body, "Run order-2 has changed since you looked at it") ||
			!strings.Contains(body, `href="../../runs/order-2"`) || strings.Contains(body, "Confirm:") {
			t.Errorf("confirm=%q: %d\n%s", confirm, code, body)
		}
	}
	if run, _, _ := j.store.Load(context.Background(), "order-2"); run.Request.Verb != "" || newest(t, j, "order-2") != before {
		t.Errorf("a stale request was recorded: %+v", run.Request)
	}
	// The page, read again, names the new entry, and the decision made
	// on it is recorded.
	page = b.get("/runs/order-2")
	if got := seen(page); len(got) == 0 || got[0] != fmt.Sprint(before) {
		t.Fatalf("seen fields %q; want %d", got, before)
	}
	form.Set("seen", seen(page)[0])
	if code, body, _ := b.post("/runs/order-2/request", form); code != http.StatusSeeOther {
		t.Fatalf("request on the run as it is: %d\n%s", code, body)
	}
}

// racingStore is a store on which a worker carries the run on between
// the dashboard's read and its request: the store refuses the request.
type racingStore struct{ *journal.Memory }

func (s racingStore) Request(ctx context.Context, runID string, r journal.Request) error {
	if _, err := s.Acquire(ctx, runID, owner, time.Minute); err != nil {
		return err
	}
	e := journal.Entry{Kind: journal.StepStarted, Step: "charge", Attempt: 2, At: at(4100)}
	if err := s.Append(ctx, runID, owner, journal.Update{Status: journal.Running, Release: true}, e); err != nil {
		return err
	}
	return s.Memory.Request(ctx, runID, r)
}

func TestStaleRequestRefusedByTheStoreIs409(t *testing.T) {
	j := shop(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := newBrowser(t, dashboard.Handler(racingStore{j.store}, dashboard.AllowActions(allow), dashboard.WithLogger(quiet)))
	page := b.get("/runs/order-2")
	form := url.Values{"csrf": {token(t, page)}, "verb": {"resume"}, "seen": {seen(page)[0]}, "confirm": {"yes"}}
	code, body, _ := b.post("/runs/order-2/request", form)
	if code != http.StatusConflict || !strings.Contains(body, "has changed since you looked at it") {
		t.Errorf("%d\n%s", code, body)
	}
	if run, _, _ := j.store.Load(context.Background(), "order-2"); run.Request.Verb != "" {
		t.Errorf("a stale request was recorded: %+v", run.Request)
	}
}

func TestMalformedSeenIs400(t *testing.T) {
	j := shop(t)
	b := newBrowser(t, handler(j, dashboard.AllowActions(allow)))
	page := b.get("/runs/order-2")
	for _, bad := range []string{"x7", "-1", "1.5"} {
		form := url.Values{"csrf": {token(t, page)}, "verb": {"resume"}, "seen": {bad}, "confirm": {"yes"}}
		if code, body, _ := b.post("/runs/order-2/request", form); code != http.StatusBadRequest || !strings.Contains(body, "journal entry number") {
			t.Errorf("seen %q: %d\n%s", bad, code, body)
		}
	}
	if run, _, _ := j.store.Load(context.Background(), "order-2"); run.Request.Verb != "" {
		t.Errorf("recorded %+v", run.Request)
	}
}

// The forms of a run that moves on its own name no journal entry: its
// journal grows with every step, so an action to stop it is checked
// against its status alone, and recorded.
func TestActionFormsOfARunningRunNameNoEntry(t *testing.T) {
	j := shop(t)
	b := newBrowser(t, handler(j, dashboard.AllowActions(allow)))
	page := b.get("/runs/order-3")
	got := seen(page)
	if len(got) == 0 || slices.ContainsFunc(got, func(s string) bool { return s != "0" }) {
		t.Fatalf("seen fields %q; want every one 0", got)
	}
	form := url.Values{"csrf": {token(t, page)}, "verb": {"compensate"}, "seen": {got[0]}, "confirm": {"yes"}}
	if code, body, _ := b.post("/runs/order-3/request", form); code != http.StatusSeeOther {
		t.Fatalf("compensate a running run: %d\n%s", code, body)
	}
	if run, _, _ := j.store.Load(context.Background(), "order-3"); run.Request.Verb != journal.Compensate {
		t.Fatalf("request %+v, want compensate pending", run.Request)
	}
}

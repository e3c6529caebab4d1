package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagakit/sagakit/journal"
)

func TestServeRefusesARemoteAddressUnlessTold(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--store=sqlite:/nonexistent.db", "--addr=0.0.0.0:0"},
		{"serve", "--store=sqlite:/nonexistent.db", "--addr=:0"},
		{"serve", "--store=sqlite:/nonexistent.db", "--addr=10.1.2.3:8080"},
		{"serve", "--store=sqlite:/nonexistent.db", "--addr=nonsense"},
		{"serve", "--store=sqlite:/nonexistent.db", "--allow-actions"},
		{"serve", "--store=sqlite:/nonexistent.db", "--allow-actions", "--token=short"},
	} {
		r := sagactl(t, nil, args...)
		if r.code != exitUsage {
			t.Errorf("sagactl %s: exit %d, want %d: %s", strings.Join(args, " "), r.code, exitUsage, r.stderr)
		}
	}
	// Told, it goes on to open the store (which does not exist here).
	if r := sagactl(t, nil, "serve", "--store=sqlite:/nonexistent.db", "--addr=0.0.0.0:0", "--allow-remote"); r.code != exitStore {
		t.Errorf("--allow-remote: exit %d, want %d: %s", r.code, exitStore, r.stderr)
	}
	for _, h := range []string{"127.0.0.1", "127.3.4.5", "::1", "localhost"} {
		if !loopback(h) {
			t.Errorf("%s is loopback", h)
		}
	}
}

func TestServeStopsOnInterrupt(t *testing.T) {
	path, _, _ := freshJournal(t)
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--store=sqlite:" + path, "--addr=127.0.0.1:0"}, env{stdout: io.Discard, stderr: stderr, getenv: func(string) string { return "" }})
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "serving") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // polling for the server to start
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "serving "+path+" at http://127.0.0.1:") || !strings.Contains(stderr.String(), "read-only") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// served is a test server of sagactl serve's handler over a memory
// store holding a paused run, named as a PostgreSQL DSN with a password.
func served(t *testing.T, token string) (*httptest.Server, *journal.Memory) {
	store := journal.NewMemory()
	ctx := context.Background()
	if err := store.Create(ctx, journal.Run{ID: "r-1", Saga: "order", Status: journal.Running, LeaseOwner: "w", LeaseExpiry: time.Now().Add(time.Minute)},
		journal.Entry{Kind: journal.RunStarted}); err != nil {
		t.Fatal(err)
	}
	if err := store.Append(ctx, "r-1", "w", journal.Update{Status: journal.Paused, Release: true}, journal.Entry{Kind: journal.RunPaused, Status: journal.Paused}); err != nil {
		t.Fatal(err)
	}
	a := &app{store: store, describe: redact("postgres://ops:s3cr3t-pw@db.internal/sagas?sslmode=disable")}
	srv := httptest.NewServer(a.serveHandler(token, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	return srv, store
}

func fetch(t *testing.T, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestServeShowsNoDSNPassword(t *testing.T) {
	srv, _ := served(t, "")
	for _, p := range []string{"/", "/runs/r-1", "/runs/nope", "/api/runs", "/api/runs/r-1"} {
		req, _ := http.NewRequest("GET", srv.URL+p, nil)
		_, body := fetch(t, http.DefaultClient, req)
		if strings.Contains(body, "s3cr3t") {
			t.Errorf("GET %s shows the DSN's password", p)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	if _, body := fetch(t, http.DefaultClient, req); !strings.Contains(body, "postgres://ops:xxxxx@db.internal/sagas") {
		t.Error("the page does not name the store")
	}
	// Read-only: no login page, and actions refused.
	req, _ = http.NewRequest("GET", srv.URL+"/login", nil)
	if code, _ := fetch(t, http.DefaultClient, req); code != 404 {
		t.Errorf("GET /login on a read-only dashboard: %d", code)
	}
}

func TestServeActionsNeedTheToken(t *testing.T) {
	const token = "0123456789abcdef-token"
	srv, store := served(t, token)
	c := srv.Client()
	c.Jar = newJar(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(header ...string) string {
		req, _ := http.NewRequest("GET", srv.URL+"/runs/r-1", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		_, body := fetch(t, c, req)
		return body
	}
	if strings.Contains(get(), "Act on the run") {
		t.Error("actions offered without the token")
	}
	if !strings.Contains(get("Authorization", "Bearer "+token), "Act on the run") {
		t.Error("actions not offered with the bearer token")
	}
	// A wrong token does not sign in; the right one does.
	post := func(path string, form url.Values) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return fetch(t, c, req)
	}
	if code, _ := post("/login", url.Values{"token": {"guess"}}); code != 403 {
		t.Errorf("wrong token: %d", code)
	}
	if code, _ := post("/login", url.Values{"token": {token}}); code != http.StatusSeeOther {
		t.Errorf("right token: %d", code)
	}
	page := get()
	if !strings.Contains(page, "Act on the run") {
		t.Fatal("actions not offered once signed in")
	}
	i := strings.Index(page, `name="csrf" value="`)
	csrf := page[i+len(`name="csrf" value="`):]
	csrf = csrf[:strings.Index(csrf, `"`)]
	if code, body := post("/runs/r-1/request", url.Values{"csrf": {csrf}, "verb": {"resume"}, "note": {"fixed"}, "confirm": {"yes"}}); code != http.StatusSeeOther {
		t.Fatalf("resume: %d\n%s", code, body)
	}
	run, _, _ := store.Load(context.Background(), "r-1")
	if run.Request != (journal.Request{Verb: journal.Resume, Note: "fixed"}) {
		t.Errorf("request %+v", run.Request)
	}
}

func newJar(t *testing.T) http.CookieJar {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

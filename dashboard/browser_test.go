package dashboard_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sagakit/sagakit/dashboard"
	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/saga"
)

// The browser test drives the dashboard in a real headless Chromium
// (Debian's chromium package; .ci/run installs it). Without one it skips,
// unless SAGAKIT_REQUIRE_BROWSER=1 (as in CI), when it fails instead.
// SAGAKIT_CHROMIUM names the browser's binary when it is not on PATH as
// chromium. Its screenshots go to SAGAKIT_ARTIFACTS when set, else to
// the test's artifact directory (kept with go test -artifacts).
const (
	requireBrowserVar = "SAGAKIT_REQUIRE_BROWSER"
	chromiumVar       = "SAGAKIT_CHROMIUM"
	artifactsVar      = "SAGAKIT_ARTIFACTS"
)

// chromium returns the path of the browser, or skips (fails, if
// required) when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(chromiumVar); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", chromiumVar, p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	why := "no Chromium found (looked for chromium, chromium-browser, google-chrome on PATH, and " + chromiumVar + "): " +
		"install Debian's chromium package (apt-get install chromium), as .ci/run does"
	if os.Getenv(requireBrowserVar) == "1" {
		t.Fatalf("browser test required (%s=1) but %s", requireBrowserVar, why)
	}
	t.Skip("browser test skipped: " + why)
	return ""
}

type parcel struct {
	Item    string `json:"item"`
	Courier string `json:"courier,omitempty"`
}

// parcelSaga ships a parcel; its ship step fails while courierDown is
// set.
func parcelSaga(courierDown *atomic.Bool) *saga.Saga[parcel] {
	return saga.New[parcel]().Name("parcel").
		Step("reserve", func(context.Context, *parcel) error { return nil },
			func(context.Context, *parcel) error { return nil }).
		Step("label", func(context.Context, *parcel) error { return nil }, nil).
		Step("ship", func(_ context.Context, p *parcel) error {
			if courierDown.Load() {
				return errors.New("courier unavailable: 503 from the booking API")
			}
			p.Courier = "DHL"
			return nil
		}, nil).
		Build()
}

// An operator opens the list in a browser, finds the paused run, opens
// it, resumes it with a note and confirms; a worker carries the request
// out, and the page, reloading itself, shows the run succeeded.
func TestBrowserResumePausedRun(t *testing.T) {
	bin := chromium(t)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The journal: two runs that succeeded and one paused on a failure.
	store := journal.NewMemory()
	var courierDown atomic.Bool
	engine := durable.NewEngine(store, durable.WithOwner("browser-test-worker"))
	def, err := durable.Register(engine, parcelSaga(&courierDown), durable.PauseOnFailure())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"parcel-1041", "parcel-1042"} {
		if _, err := def.Run(saga.WithRunID(ctx, id), &parcel{Item: "book"}); err != nil {
			t.Fatalf("run %s: %v", id, err)
		}
	}
	courierDown.Store(true)
	if _, err := def.Run(saga.WithRunID(ctx, "parcel-1043"), &parcel{Item: "lamp"}); err == nil {
		t.Fatal("run parcel-1043 succeeded; want it paused")
	}
	if run, _, err := store.Load(ctx, "parcel-1043"); err != nil || run.Status != journal.Paused {
		t.Fatalf("run parcel-1043: status %v, %v; want paused", run.Status, err)
	}
	courierDown.Store(false) // the courier is back: resuming will succeed

	// A worker that carries requests out, as a service's would.
	workCtx, stopWork := context.WithCancel(ctx)
	worked := make(chan error, 1)
	go func() { worked <- engine.Work(workCtx, 50*time.Millisecond) }()
	defer func() {
		stopWork()
		if err := <-worked; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("worker: %v", err)
		}
	}()

	// The dashboard, mounted under /sagas/ as the README shows, with
	// actions for requests carrying the operator's bearer token.
	const token = "Bearer browser-test-token-0123456789"
	var authorized atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/sagas/", http.StripPrefix("/sagas", dashboard.Handler(store,
		dashboard.AllowActions(func(r *http.Request) bool {
			ok := r.Header.Get("Authorization") == token
			if ok {
				authorized.Add(1)
			}
			return ok
		}),
		dashboard.WithPolling(200*time.Millisecond),
		dashboard.WithStoreName("memory journal (browser test)"),
		dashboard.WithLogger(slog.New(slog.DiscardHandler)),
	)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The browser, on a profile of its own, kept off the network.
	profile, err := os.MkdirTemp("", "sagakit-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer removeProfile(t, profile)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1200, 1500),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc() // stops the browser and waits for it
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelTab()

	shots := artifactDir(t)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			p := filepath.Join(shots, name)
			t.Logf("screenshot: %s", p)
			return os.WriteFile(p, png, 0o644)
		})
	}

	const note = "courier is back; resuming (ticket OPS-311)"
	resumeForm := `form.action:has(input[name="verb"][value="resume"])`
	err = chromedp.Do(tab,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
				Headers: network.Headers{"Authorization": token},
			})
			return err
		}),
		// The list: one run paused; its count links to those runs.
		chromedp.Navigate(srv.URL+"/sagas/"),
		chromedp.WaitVisible(chromedp.CSS(`a.count.st-paused`)),
		shot("list.png"),
		chromedp.Click(chromedp.CSS(`a.count.st-paused`)),
		chromedp.WaitVisible(chromedp.CSS(`td[data-th="Run"] a`)),
		// Open the paused run.
		chromedp.Click(chromedp.Search(`//td[@data-th="Run"]/a[normalize-space()="parcel-1043"]`)),
		chromedp.WaitVisible(chromedp.CSS(`h1 .badge.st-paused`)),
		chromedp.WaitVisible(chromedp.CSS(`section.error`)),
		// Resume with a note, then confirm.
		chromedp.SendKeys(chromedp.CSS(resumeForm+` input[name="note"]`), note),
		shot("run-paused.png"),
		chromedp.Click(chromedp.CSS(resumeForm+` button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.confirm button[type="submit"]`)),
		chromedp.Click(chromedp.CSS(`form.confirm button[type="submit"]`)),
		// Back on the run page: the request is pending until the worker
		// carries it out, and the page reloads itself when it has.
		chromedp.WaitVisible(chromedp.CSS(`h1 .badge.st-succeeded`)),
		chromedp.WaitVisible(chromedp.CSS(`ul.notes`)),
		shot("run-succeeded.png"),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	notes, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`ul.notes`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notes, note) {
		t.Errorf("the run page's notes do not show the operator's note %q:\n%s", note, notes)
	}
	title, err := chromedp.Run(tab, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "parcel-1043") {
		t.Errorf("title %q; want the run's page", title)
	}

	run, _, err := store.Load(ctx, "parcel-1043")
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != journal.Succeeded || run.Request != (journal.Request{}) {
		t.Errorf("run parcel-1043: status %v, request %+v; want succeeded, none pending", run.Status, run.Request)
	}
	if !strings.Contains(string(run.State), `"courier":"DHL"`) {
		t.Errorf("run parcel-1043's state %s; want the parcel shipped", run.State)
	}
	if authorized.Load() == 0 {
		t.Error("the authorization check never accepted a request")
	}
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}

// artifactDir returns where screenshots go.
func artifactDir(t *testing.T) string {
	if d := os.Getenv(artifactsVar); d != "" {
		d = filepath.Join(d, t.Name())
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

// removeProfile removes the browser's profile; Chromium's helper
// processes may write to it shortly after the browser stops.
func removeProfile(t *testing.T, dir string) {
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("removing the browser profile %s: %v", dir, err)
}

package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sagakit/sagakit/dashboard"
)

// tokenCookie holds the --allow-actions token in a browser, set by the
// login page.
const tokenCookie = "sagactl_token"

func (a *app) serveCommand() *cobra.Command {
	var addr, token string
	var remote, actions bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the web dashboard of the journal's runs",
		Long: `Serve the web dashboard: the runs list and each run's page (state, steps,
notes, graph, timeline), updated live, in a browser.

It listens on --addr, on the loopback interface by default; an address
another machine can reach needs --allow-remote. The dashboard is read-only
unless --allow-actions is given, with a token (--token, or the
SAGAKIT_DASHBOARD_TOKEN environment variable): a browser signs in with it at
/login (the token is kept in an HttpOnly cookie), a script sends it as
"Authorization: Bearer TOKEN". Actions record the same requests as
sagactl's verbs, carried out by the next worker.

` + exitCodesHelp,
		Example: `  sagactl serve --store sqlite:shop.db
  SAGAKIT_DASHBOARD_TOKEN=$(openssl rand -hex 16) sagactl serve --allow-actions`,
		Args: args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return fail(exitUsage, "--addr %q: want HOST:PORT, such as 127.0.0.1:8080", addr)
			}
			if !loopback(host) && !remote {
				return fail(exitUsage, "--addr %q listens beyond this machine: give --allow-remote to mean it (and put TLS in front)", addr)
			}
			if token == "" {
				token = a.getenv("SAGAKIT_DASHBOARD_TOKEN")
			}
			if actions && len(token) < 16 {
				return fail(exitUsage, "--allow-actions needs a token of 16 characters or more: --token or SAGAKIT_DASHBOARD_TOKEN")
			}
			if !actions {
				token = ""
			}
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fail(exitUsage, "--addr: %v", err)
			}
			logger := slog.New(slog.NewTextHandler(a.stderr, nil))
			srv := &http.Server{Handler: a.serveHandler(token, logger), ReadHeaderTimeout: 10 * time.Second}
			mode := "read-only"
			if actions {
				mode = "actions allowed with the token (sign in at /login)"
			}
			fmt.Fprintf(a.stderr, "sagactl: serving %s at http://%s/ (%s)\n", a.describe, ln.Addr(), mode)
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			select {
			case err := <-done:
				return fail(exitStore, "serving: %v", err)
			case <-ctx.Done():
			}
			shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shut)
			if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fail(exitStore, "serving: %v", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "the address to listen on")
	f.BoolVar(&remote, "allow-remote", false, "allow an --addr beyond the loopback interface")
	f.BoolVar(&actions, "allow-actions", false, "allow operator actions, for those who give the token")
	f.StringVar(&token, "token", "", "the token actions need (default $SAGAKIT_DASHBOARD_TOKEN)")
	return cmd
}

// loopback reports whether host names the loopback interface only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveHandler is the dashboard of a.store, with actions for the
// holders of token when it is not "", and its login page.
func (a *app) serveHandler(token string, logger *slog.Logger) http.Handler {
	opts := []dashboard.Option{dashboard.WithStoreName(a.describe), dashboard.WithLogger(logger)}
	if token != "" {
		opts = append(opts, dashboard.AllowActions(func(r *http.Request) bool { return hasToken(r, token) }))
	}
	mux := http.NewServeMux()
	mux.Handle("/", dashboard.Handler(a.store, opts...))
	if token != "" {
		mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) { login(w, r, token) })
	}
	return mux
}

// hasToken reports whether r carries token, as a bearer or in its cookie.
func hasToken(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		c, err := r.Cookie(tokenCookie)
		if err != nil {
			return false
		}
		got = c.Value
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · sagakit</title><link rel="stylesheet" href="assets/style.css"></head>
<body><main><h1>Sign in to act on runs</h1>{{if .}}<p class="err">{{.}}</p>{{end}}
<form method="post" action="login"><label>Token <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Sign in</button> <a href="./">Back to the runs</a></form></main></body></html>
`))

// login asks for the token, and keeps it in an HttpOnly cookie.
func login(w http.ResponseWriter, r *http.Request, token string) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		_ = loginPage.Execute(w, "")
		return
	case http.MethodPost:
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		w.WriteHeader(http.StatusForbidden)
		_ = loginPage.Execute(w, "A sign-in from another site is refused.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("token")), []byte(token)) != 1 {
		time.Sleep(200 * time.Millisecond) // slow guessing down
		w.WriteHeader(http.StatusForbidden)
		_ = loginPage.Execute(w, "That is not the token.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: token, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	hd.Set("Location", "./")
	w.WriteHeader(http.StatusSeeOther)
}

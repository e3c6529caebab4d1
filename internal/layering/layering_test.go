// Package layering holds the test that keeps imports pointing one way
// (DESIGN.md §3): leaf packages never import saga, and the core packages
// depend on the standard library and golang.org/x/sync only.
package layering

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/sagakit/sagakit"

// rules maps a package (relative to the module root) to the sagakit
// packages it may import. Packages not listed may import anything.
var rules = map[string][]string{
	"retry":             {},
	"builder":           {},
	"internal/runid":    {},
	"internal/nanotime": {},
	"state":             {},
	"saga":              {"builder", "retry", "internal/runid"},
	"internal/graph":    {"builder"},
	"parallel":          {"saga", "builder", "retry", "state", "internal/runid", "internal/graph"},
	"journal":           {},
	"journal/sqlite":    {"journal", "internal/nanotime"},
	"journal/postgres":  {"journal", "internal/nanotime"},
	"durable":           {"saga", "builder", "retry", "state", "journal", "internal/runid", "internal/graph"},
	"sagatest":          {"saga", "durable", "journal", "state", "builder", "retry", "internal/runid"},
	// The read models the CLI and a dashboard share: they read a journal,
	// and never import a package of the CLI or the dashboard.
	"runview": {"journal", "builder", "saga", "durable"},
	// The CLI records requests and reads views; it does not import
	// durable, so it cannot drive a run (it never runs saga code).
	"cmd/sagactl": {"runview", "dashboard", "journal", "journal/sqlite", "journal/postgres", "builder"},
	// The dashboard renders the same views as the CLI, and like it never
	// drives a run: no durable.
	"dashboard": {"runview", "journal", "builder"},
}

// core packages may import only the standard library, golang.org/x/sync
// and each other.
var core = []string{"saga", "builder", "retry", "state", "parallel", "internal/runid", "internal/graph"}

func TestImportsPointOneWay(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for pkg, allowed := range rules {
		dir := filepath.Join(root, pkg)
		if _, err := os.Stat(dir); err != nil {
			continue // not written yet
		}
		p, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		for _, imp := range p.Imports {
			if own, ok := strings.CutPrefix(imp, module+"/"); ok {
				if !slices.Contains(allowed, own) {
					t.Errorf("%s imports %s; it may import only %v of sagakit", pkg, own, allowed)
				}
				continue
			}
			if slices.Contains(core, pkg) && !isStd(imp) && !strings.HasPrefix(imp, "golang.org/x/sync/") {
				t.Errorf("core package %s imports %s; core packages use only the standard library and golang.org/x/sync", pkg, imp)
			}
		}
	}
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

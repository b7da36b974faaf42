package app_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The house rule (docs/architecture.md): imports go downward, cmd → app →
// callflow → domains → floor, and no domain imports another; they meet in
// callflow. A package that fits no layer fails the test, so a new one has
// to be given its place here, on purpose.

const module = "guidecall"

// layers, top first. A domain's sub-packages (payments/sandbox,
// queue/queuetest) belong to their domain.
var (
	layerOf = map[string]int{"cmd": 0, "app": 1, "callflow": 2, "telemetry": 2}
	domains = []string{"queue", "payments", "signaling", "turnserver", "internal/auth", "merchant", "catalog"}
	// webhook is generic (a URL, a body, an id; it imports no domain), and
	// payment providers (payments/sandbox) send their webhooks through it,
	// so it sits with the floor that domains may use.
	floor = []string{"protocol", "webhook", "internal/config", "internal/db", "internal/httpjson", "internal/cleantext", "internal/tlstest", "frontend"}
)

const (
	domainLayer = 3
	floorLayer  = 4
)

// placement is where a package sits: its layer and, for domains and the
// floor, the group it belongs to.
type placement struct {
	layer int
	group string
}

func place(rel string) (placement, bool) {
	within := func(root string) bool { return rel == root || strings.HasPrefix(rel, root+"/") }
	for name, l := range layerOf {
		if within(name) {
			return placement{l, name}, true
		}
	}
	for _, d := range domains {
		if within(d) {
			return placement{domainLayer, d}, true
		}
	}
	for _, f := range floor {
		if within(f) {
			return placement{floorLayer, f}, true
		}
	}
	return placement{}, false
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// packageImports maps each package directory (relative to the module) to
// the guidecall packages its non-test files import.
func packageImports(t *testing.T, root string) map[string]map[string]bool {
	t.Helper()
	imports := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if imports[rel] == nil {
			imports[rel] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == module || strings.HasPrefix(p, module+"/") {
				imports[rel][strings.TrimPrefix(strings.TrimPrefix(p, module), "/")] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return imports
}

func TestImportsGoDownward(t *testing.T) {
	t.Parallel()
	imports := packageImports(t, moduleRoot(t))
	if len(imports) < 10 {
		t.Fatalf("found only %d packages; is the walk looking at the module?", len(imports))
	}
	for pkg, deps := range imports {
		if pkg == "e2e" {
			continue // tests only: it drives the whole binary
		}
		from, ok := place(pkg)
		if !ok {
			t.Errorf("package %s has no layer: give it one in app/layers_test.go and docs/architecture.md", pkg)
			continue
		}
		for dep := range deps {
			to, ok := place(dep)
			switch {
			case !ok:
				t.Errorf("%s imports %s, which has no layer", pkg, dep)
			case from.group == to.group:
				// A package and its own sub-packages.
			case pkg == "protocol":
				t.Errorf("protocol imports %s: the wire depends on nothing of guidecall", dep)
			case to.layer < from.layer:
				t.Errorf("%s imports %s: imports go downward (cmd → app → callflow → domains → floor)", pkg, dep)
			case to.layer == domainLayer && from.layer == domainLayer:
				t.Errorf("domain %s imports domain %s: domains meet in callflow, through events and small interfaces", pkg, dep)
			}
		}
	}
}

// The rule must be able to fail: a domain importing another is caught.
func TestLayerRuleCatchesADomainImport(t *testing.T) {
	t.Parallel()
	q, _ := place("queue")
	p, _ := place("payments/sandbox")
	if q.layer != domainLayer || p.layer != domainLayer || q.group == p.group {
		t.Fatalf("queue %+v and payments/sandbox %+v should be two different domains", q, p)
	}
	if a, _ := place("app"); a.layer >= domainLayer {
		t.Fatalf("app %+v should sit above the domains", a)
	}
	if _, ok := place("nowhere"); ok {
		t.Fatal("an unknown package got a layer")
	}
}

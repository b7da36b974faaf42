package frontend

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, p string) (*http.Response, string) {
	t.Helper()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Get(srv.URL + p)
	if err != nil {
		t.Fatalf("GET %s: %v", p, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", p, err)
	}
	return res, string(body)
}

func filesWithExt(t *testing.T, ext string) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(Static(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && path.Ext(p) == ext {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// widgetCatalogs are the widget's catalogs, locales/<lang>.json; the
// console's live apart, in locales/console/.
func widgetCatalogs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, p := range filesWithExt(t, ".json") {
		if path.Dir(p) == "locales" {
			out = append(out, p)
		}
	}
	return out
}

func TestPagesAndAssets(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	type want struct{ path, ctype string }
	cases := []want{
		{"/shop/", "text/html"},
		{"/guide/", "text/html"},
		{"/admin/", "text/html"},
		{"/admin/admin.css", "text/css"},
		{"/css/app.css", "text/css"},
	}
	for _, p := range filesWithExt(t, ".js") {
		cases = append(cases, want{"/" + p, "text/javascript"})
	}
	for _, p := range filesWithExt(t, ".json") {
		cases = append(cases, want{"/" + p, "application/json"})
	}
	if locales := widgetCatalogs(t); len(locales) != 14 {
		t.Errorf("want 14 locale catalogs, have %v", locales)
	}
	for _, c := range cases {
		res, body := get(t, srv, c.path)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", c.path, res.StatusCode)
			continue
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", c.path, ct, c.ctype)
		}
		if path.Ext(c.path) == ".js" || strings.HasSuffix(c.path, "/") {
			if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("GET %s: Cache-Control %q", c.path, cc)
			}
		}
		if body == "" {
			t.Errorf("GET %s: empty body", c.path)
		}
	}

	res, _ := get(t, srv, "/")
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/shop/" {
		t.Errorf("GET /: %d Location %q, want redirect to /shop/", res.StatusCode, res.Header.Get("Location"))
	}
	for _, p := range []string{"/js/", "/nope.js", "/shop/missing.html"} {
		if res, _ := get(t, srv, p); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, res.StatusCode)
		}
	}
}

func TestLocaleCatalogsComplete(t *testing.T) {
	read := func(p string) map[string]string {
		b, err := fs.ReadFile(Static(), p)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return m
	}
	en := read("locales/en.json")
	for _, p := range widgetCatalogs(t) {
		checkCatalog(t, p, read(p), en, "en.json")
	}
}

var (
	importRE = regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)`)
	srcRE    = regexp.MustCompile(`<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"`)
)

// resolve maps a reference found in file from to a path in the static FS.
func resolve(from, ref string) (string, bool) {
	switch {
	case strings.HasPrefix(ref, "/"):
		return strings.TrimPrefix(path.Clean(ref), "/"), true
	case strings.HasPrefix(ref, "./"), strings.HasPrefix(ref, "../"):
		return path.Join(path.Dir(from), ref), true
	default:
		return "", false // bare specifier or URL: not allowed in this tree
	}
}

func TestImportsResolve(t *testing.T) {
	static := Static()
	check := func(from, ref string) {
		p, ok := resolve(from, ref)
		if !ok {
			t.Errorf("%s: %q is not a relative or absolute path (no external assets)", from, ref)
			return
		}
		if _, err := fs.Stat(static, p); err != nil {
			t.Errorf("%s: %q does not resolve to an embedded file (%s)", from, ref, p)
		}
	}
	n := 0
	for _, f := range filesWithExt(t, ".js") {
		b, err := fs.ReadFile(static, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range importRE.FindAllStringSubmatch(string(b), -1) {
			ref := m[1] + m[2] + m[3]
			check(f, ref)
			n++
		}
	}
	if n == 0 {
		t.Fatal("no imports found: the import pattern is broken")
	}
	for _, f := range filesWithExt(t, ".html") {
		b, err := fs.ReadFile(static, f)
		if err != nil {
			t.Fatal(err)
		}
		refs := srcRE.FindAllStringSubmatch(string(b), -1)
		if len(refs) == 0 {
			t.Errorf("%s: no script or stylesheet", f)
		}
		for _, m := range refs {
			check(f, m[1])
		}
	}
}

func TestResolveCatchesBrokenImport(t *testing.T) {
	src := "import { a } from \"./missing.js\";\nimport {\n  b,\n} from '../js/money.js';\n"
	got := importRE.FindAllStringSubmatch(src, -1)
	if len(got) != 2 || got[0][1] != "./missing.js" || got[1][1] != "../js/money.js" {
		t.Fatalf("import pattern: %q", got)
	}
	p, _ := resolve("shop/shop.js", "./missing.js")
	if _, err := fs.Stat(Static(), p); err == nil {
		t.Fatal("a missing module resolved")
	}
}

package frontend

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// raw fetches without the transport's transparent gzip.
func raw(t *testing.T, srv *httptest.Server, p string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

var versionedRef = regexp.MustCompile(`"(\.\./js/call\.js)\?v=([A-Za-z0-9_-]+)"`)

// Pages name their scripts, styles and modules by content hash; a
// versioned URL is cached for good, an unversioned one (the pages, the
// widget loader, anything a third party links to) is revalidated, and
// both are gzipped for clients that take it.
func TestContentHashCachingAndGzip(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	res, page := raw(t, srv, "/guide/")
	if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Fatalf("the page: Cache-Control %q", cc)
	}
	if !regexp.MustCompile(`src="\./guide\.js\?v=[A-Za-z0-9_-]{16}"`).Match(page) || !strings.Contains(string(page), `href="../css/app.css?v=`) {
		t.Fatalf("the page does not version its script and style:\n%s", page)
	}
	_, console := raw(t, srv, "/guide/guide.js")
	m := versionedRef.FindSubmatch(console)
	if m == nil {
		t.Fatalf("guide.js does not import call.js by hash:\n%.400s", console)
	}
	versioned := "/js/call.js?v=" + string(m[2])

	res, plain := raw(t, srv, versioned)
	if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" || res.Header.Get("Content-Encoding") != "" {
		t.Fatalf("versioned module: Cache-Control %q, encoding %q", cc, res.Header.Get("Content-Encoding"))
	}
	res, _ = raw(t, srv, "/js/call.js?v=stale")
	if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Fatalf("a stale version is not to be kept: Cache-Control %q", cc)
	}

	res, zipped := raw(t, srv, versioned, "Accept-Encoding", "br, gzip")
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Accept-Encoding") || len(zipped) >= len(plain) {
		t.Fatalf("gzip: encoding %q, vary %q, %d bytes vs %d plain", res.Header.Get("Content-Encoding"), res.Header.Values("Vary"), len(zipped), len(plain))
	}
	zr, err := gzip.NewReader(strings.NewReader(string(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if string(unzipped) != string(plain) {
		t.Fatal("gzip body differs from the plain one")
	}

	// Revalidation: the ETag of the current content answers 304.
	etag := res.Header.Get("ETag")
	res, body := raw(t, srv, "/js/call.js", "Accept-Encoding", "gzip", "If-None-Match", etag)
	if res.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("If-None-Match %s: %d, %d bytes", etag, res.StatusCode, len(body))
	}
}

// A change deep in the import graph changes every URL on the way to it.
func TestHashFollowsImports(t *testing.T) {
	tree := func(leaf string) fstest.MapFS {
		return fstest.MapFS{
			"p/index.html": {Data: []byte(`<script type="module" src="./a.js"></script>`)},
			"p/a.js":       {Data: []byte("import { b } from \"../js/b.js\";\n")},
			"js/b.js":      {Data: []byte("import { c } from \"./c.js\";\nexport const b = c;\n")},
			"js/c.js":      {Data: []byte(leaf)},
		}
	}
	one, err := prepareAssets(tree("export const c = 1;\n"))
	if err != nil {
		t.Fatal(err)
	}
	two, err := prepareAssets(tree("export const c = 2;\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"p/a.js", "js/b.js", "js/c.js"} {
		if one.files[name].hash == two.files[name].hash {
			t.Errorf("%s kept its hash when c.js changed", name)
		}
	}
	if string(one.files["p/index.html"].body) == string(two.files["p/index.html"].body) {
		t.Error("the page names the same a.js version after c.js changed")
	}
	cyclic := fstest.MapFS{
		"a.js": {Data: []byte("import \"./b.js\";\n")},
		"b.js": {Data: []byte("import \"./a.js\";\n")},
	}
	if _, err := prepareAssets(cyclic); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("an import cycle: %v", err)
	}
}

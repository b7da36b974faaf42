package frontend

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"
)

// asset is one static file as served: its content with references to
// other files versioned by their content hash, that content's hash, and
// its gzip form when that is smaller.
type asset struct {
	body []byte
	gz   []byte
	hash string // base64url SHA-256 of body, shortened
}

// assets is the static tree prepared once: every reference from a page or
// module to another file gets "?v=<hash of that file>", so a browser may
// keep a versioned URL forever (a change makes a new URL) while the entry
// points (the pages, the widget loader, anything asked for without ?v=)
// are revalidated on every load.
type assets struct {
	files map[string]*asset
}

var (
	prepareOnce sync.Once
	prepared    *assets
	prepareErr  error
)

// loadAssets prepares the embedded tree once per process.
func loadAssets() (*assets, error) {
	prepareOnce.Do(func() { prepared, prepareErr = prepareAssets(Static()) })
	return prepared, prepareErr
}

// References rewritten: HTML src/href attributes, and JS static imports
// and re-exports (not dynamic import(), and not the JSDoc types that
// mention import("...")).
var (
	htmlRef = regexp.MustCompile(`\b(src|href)="([^"#?]+)"`)
	jsRef   = regexp.MustCompile(`(?m)^(\s*(?:import|export)\b[^;"']*?\bfrom\s*|^\s*import\s*)(["'])([^"'?#]+)(["'])`)
)

var compressible = map[string]bool{".html": true, ".js": true, ".mjs": true, ".css": true, ".json": true, ".svg": true}

func prepareAssets(static fs.FS) (*assets, error) {
	raw := map[string][]byte{}
	err := fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		raw[p] = b
		return err
	})
	if err != nil {
		return nil, err
	}
	a := &assets{files: map[string]*asset{}}
	visiting := map[string]bool{}
	var prepare func(name string) (*asset, error)
	prepare = func(name string) (*asset, error) {
		if f, ok := a.files[name]; ok {
			return f, nil
		}
		if visiting[name] {
			// A versioned URL needs the hash of what it names, which a
			// cycle of imports cannot give; keep modules acyclic.
			return nil, fmt.Errorf("frontend: import cycle through %s", name)
		}
		visiting[name] = true
		defer delete(visiting, name)
		body := raw[name]
		var failed error
		version := func(ref string) string {
			target := ref
			if strings.HasPrefix(ref, "/") {
				target = strings.TrimPrefix(path.Clean(ref), "/")
			} else if strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") {
				target = path.Join(path.Dir(name), ref)
			} else {
				return ref // another origin, or not a path
			}
			if _, ok := raw[target]; !ok {
				return ref
			}
			dep, err := prepare(target)
			if err != nil {
				failed = err
				return ref
			}
			return ref + "?v=" + dep.hash
		}
		switch path.Ext(name) {
		case ".html":
			body = htmlRef.ReplaceAllFunc(body, func(m []byte) []byte {
				g := htmlRef.FindSubmatch(m)
				return []byte(fmt.Sprintf(`%s="%s"`, g[1], version(string(g[2]))))
			})
		case ".js", ".mjs":
			body = jsRef.ReplaceAllFunc(body, func(m []byte) []byte {
				g := jsRef.FindSubmatch(m)
				return []byte(string(g[1]) + string(g[2]) + version(string(g[3])) + string(g[4]))
			})
		}
		if failed != nil {
			return nil, failed
		}
		sum := sha256.Sum256(body)
		f := &asset{body: body, hash: base64.RawURLEncoding.EncodeToString(sum[:12])}
		if compressible[path.Ext(name)] && len(body) > 512 {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = zw.Write(body)
			_ = zw.Close()
			if buf.Len() < len(body) {
				f.gz = buf.Bytes()
			}
		}
		a.files[name] = f
		return f, nil
	}
	for name := range raw {
		if _, err := prepare(name); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// serve writes asset name: immutable for a year when asked for by its
// current hash, otherwise revalidated by ETag on every use; gzip when the
// client takes it.
func (a *assets) serve(w http.ResponseWriter, r *http.Request, name string) {
	f, ok := a.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if v := r.URL.Query().Get("v"); v != "" && v == f.hash && path.Ext(name) != ".html" {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	body, etag := f.body, `"`+f.hash+`"`
	if f.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, etag = f.gz, `"`+f.hash+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	// No modification time: the ETag is what tells versions apart.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

package frontend

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var embedded embed.FS

// contentTypes pins the types of the files we ship, so the answer does not
// depend on the host's mime.types (some map .js to application/javascript or
// .json to nothing at all).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".json": "application/json; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// contentSecurityPolicy allows only our own scripts and styles; the
// WebSocket may live on another node of the cluster (ws_url), hence ws:/wss:.
// Pages may be framed by this node and by the merchant origins.
func contentSecurityPolicy(frameAncestors []string) string {
	return "default-src 'self'; script-src 'self'; style-src 'self'; " +
		"img-src 'self' data: blob:; media-src 'self' blob: mediastream:; " +
		"connect-src 'self' ws: wss:; base-uri 'self'; form-action 'self'; frame-ancestors " +
		strings.Join(append([]string{"'self'"}, frameAncestors...), " ")
}

// Options configure the handler for the merchant pages that embed the
// widget.
type Options struct {
	// AllowedOrigins are canonical origins (scheme://host[:port]) allowed
	// to load the widget's modules, styles and catalogs cross-origin and to
	// frame the pages.
	AllowedOrigins []string
}

// Static returns the embedded static tree (rooted at static/).
func Static() fs.FS {
	sub, err := fs.Sub(embedded, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory exists
	}
	return sub
}

// Handler serves the embedded pages: /shop/ (demo product page with the call
// widget), /guide/ (guide console), /admin/ (admin dashboard), /js/, /css/
// and /locales/. "/" redirects to /shop/. Directory listings are not served.
func Handler() http.Handler { return HandlerFor(Options{}) }

// HandlerFor is [Handler] for merchant pages on other origins: the widget
// loader (/widget.js) and everything it imports answer those origins with
// CORS, since module scripts and fetched catalogs need it.
func HandlerFor(opts Options) http.Handler {
	static := Static()
	files, err := loadAssets()
	if err != nil {
		panic(err) // the embedded tree is fixed at build time; its tests catch this
	}
	allowed := make(map[string]bool, len(opts.AllowedOrigins))
	for _, o := range opts.AllowedOrigins {
		allowed[o] = true
	}
	csp := contentSecurityPolicy(opts.AllowedOrigins)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.Path
		if p == "" || p == "/" {
			http.Redirect(w, r, "/shop/", http.StatusFound)
			return
		}
		name := strings.TrimPrefix(path.Clean(p), "/")
		if !strings.HasSuffix(p, "/") {
			if _, err := fs.Stat(static, path.Join(name, "index.html")); err == nil {
				http.Redirect(w, r, p+"/", http.StatusMovedPermanently)
				return
			}
		}
		if strings.HasSuffix(p, "/") {
			// A directory: only serve it when it has an index page.
			if _, err := fs.Stat(static, path.Join(name, "index.html")); err != nil {
				http.NotFound(w, r)
				return
			}
			name = path.Join(name, "index.html")
		}
		ext := path.Ext(name)
		h := w.Header()
		if ct, ok := contentTypes[ext]; ok {
			h.Set("Content-Type", ct)
		}
		h.Set("X-Content-Type-Options", "nosniff")
		if ext != ".html" {
			// Cached answers differ by Origin, whether it is allowed or not.
			h.Add("Vary", "Origin")
			if origin := r.Header.Get("Origin"); allowed[origin] {
				h.Set("Access-Control-Allow-Origin", origin)
			}
		}
		if ext == ".html" {
			h.Set("Content-Security-Policy", csp)
			h.Set("Referrer-Policy", "same-origin")
		}
		files.serve(w, r, name)
	})
}

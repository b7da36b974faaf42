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
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; media-src 'self' blob: mediastream:; " +
	"connect-src 'self' ws: wss:; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"

// Static returns the embedded static tree (rooted at static/).
func Static() fs.FS {
	sub, err := fs.Sub(embedded, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory exists
	}
	return sub
}

// Handler serves the embedded pages: /shop/ (demo product page with the call
// widget), /guide/ (guide console), /js/, /css/ and /locales/. "/" redirects
// to /shop/. Directory listings are not served.
func Handler() http.Handler {
	static := Static()
	files, err := loadAssets()
	if err != nil {
		panic(err) // the embedded tree is fixed at build time; its tests catch this
	}
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
		if ext == ".html" {
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("Referrer-Policy", "same-origin")
		}
		files.serve(w, r, name)
	})
}

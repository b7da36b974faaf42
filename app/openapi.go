package app

import (
	_ "embed"
	"net/http"
)

// openAPI is the contract of the HTTP API, served at /api/openapi.json.
// TestOpenAPICoversTheRouter keeps it true: every route the router serves
// is in it (and nothing else), and every example validates against its
// schema.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openAPI)
}

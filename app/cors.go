package app

import (
	"net/http"
	"path"
	"strings"

	"github.com/rs/cors"
)

// apiCORS lets the merchant pages of --allowed-origins call the shopper's
// part of the API (join, ICE servers, payment links) from their own origin.
// Tokens travel in Authorization, never in cookies, so no credentials mode.
// Without origins the API stays same-origin only: rs/cors would read an
// empty list as "everyone".
func apiCORS(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept"},
		ExposedHeaders: []string{"Retry-After"},
		MaxAge:         600,
	})
	return c.Handler
}

// wsOriginPatterns turns origins into the WebSocket library's patterns,
// which path.Match compares with scheme://host: an IPv6 host's brackets
// would otherwise read as a character class.
func wsOriginPatterns(origins []string) []string {
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		var b strings.Builder
		for _, r := range o {
			if strings.ContainsRune(`*?[]\`, r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		if _, err := path.Match(b.String(), o); err == nil {
			out = append(out, b.String())
		}
	}
	return out
}

package callflow

import "testing"

// A checkout sends the shopper back only to the node's own pages or the
// merchant's allowed origins: anything else would be an open redirect.
func TestReturnAllowed(t *testing.T) {
	f := &Flow{cfg: Config{PublicURL: "https://calls.example:8443", AllowedOrigins: []string{"https://Shop.example", "not a url"}}}
	for page, want := range map[string]bool{
		"https://shop.example/products/scarf?c=1": true,
		"https://SHOP.example/":                   true,
		"https://calls.example:8443/shop/":        true,
		"https://calls.example/shop/":             false, // another port is another origin
		"http://shop.example/":                    false, // another scheme too
		"https://shop.example.evil.test/":         false,
		"https://user@shop.example/":              false,
		"javascript:alert(1)":                     false,
		"/relative":                               false,
		"":                                        false,
		"not a url":                               false,
	} {
		if got := f.returnAllowed(page); got != want {
			t.Errorf("returnAllowed(%q) = %v, want %v", page, got, want)
		}
	}
}

func TestLocaleCountry(t *testing.T) {
	for locale, want := range map[string]string{
		"nl-NL": "NL", "en_GB": "GB", "ja-JP": "JP", "de": "", "": "", "xx-??": "", "pt-br": "BR",
	} {
		if got := localeCountry(locale); got != want {
			t.Errorf("localeCountry(%q) = %q, want %q", locale, got, want)
		}
	}
}

func TestCanonicalLocale(t *testing.T) {
	for locale, want := range map[string]string{
		"nl-NL": "nl-NL", "en_GB": "en-GB", "pt-br": "pt-BR", "de": "de", "": "", "xx-??": "", "zh-hant-tw": "zh-Hant-TW",
	} {
		if got := canonicalLocale(locale); got != want {
			t.Errorf("canonicalLocale(%q) = %q, want %q", locale, got, want)
		}
	}
}

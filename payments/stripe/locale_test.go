package stripe

import (
	"slices"
	"testing"
)

// A shopper's BCP 47 locale becomes the nearest of Stripe's Checkout
// locales, or "auto" when Stripe has none of their language.
func TestCheckoutLocale(t *testing.T) {
	for in, want := range map[string]string{
		"": "auto", "not a locale!": "auto",
		"en": "en", "en-US": "en", "en-GB": "en-GB", "en-AU": "en-GB",
		"de-CH": "de", "nl-NL": "nl", "ja-JP": "ja", "fr-BE": "fr", "fr-CA": "fr-CA",
		"es": "es", "es-ES": "es", "es-MX": "es-419", "es-AR": "es-419",
		"pt-PT": "pt", "pt-BR": "pt-BR",
		"zh-CN": "zh", "zh-Hans": "zh", "zh-TW": "zh-TW", "zh-Hant": "zh-TW", "zh-HK": "zh-HK",
		"no": "nb", "nb-NO": "nb", "fil": "fil",
		"ar": "auto", "ar-EG": "auto", "he": "auto", "uk": "auto", "hi": "auto",
	} {
		got := checkoutLocale(in)
		if got != want {
			t.Errorf("checkoutLocale(%q) = %q, want %q", in, got, want)
		}
		if got != "auto" && !slices.Contains(checkoutLocales, got) {
			t.Errorf("checkoutLocale(%q) = %q, not one of Stripe's", in, got)
		}
	}
}

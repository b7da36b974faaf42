package sandbox

import "testing"

// Every language of the checkout has every word English has, and no
// other: a missing key would show an empty message or button.
func TestCatalogComplete(t *testing.T) {
	for lang, words := range catalog {
		for k := range catalog["en"] {
			if words[k] == "" {
				t.Errorf("%s: no %q", lang, k)
			}
		}
		for k := range words {
			if _, ok := catalog["en"][k]; !ok {
				t.Errorf("%s: %q is not in English", lang, k)
			}
		}
		if _, ok := separators[lang]; !ok {
			t.Errorf("%s: no number separators", lang)
		}
	}
	if len(catalog) != 14 {
		t.Errorf("%d languages, want the widget's 14", len(catalog))
	}
}

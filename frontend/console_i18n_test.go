package frontend

import (
	"encoding/json"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// consoleLanguages are the catalogs the console may ship, as js/i18n.js
// LANGUAGES names them.
var consoleLanguages = []string{"en", "zh-CN", "ja", "ko", "th", "id", "vi", "ar", "he", "de", "nl", "fr", "es", "pt-BR"}

func readCatalog(t *testing.T, p string) map[string]string {
	t.Helper()
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

func consoleCatalogs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, p := range filesWithExt(t, ".json") {
		if path.Dir(p) == "locales/console" {
			out = append(out, p)
		}
	}
	return out
}

// TestConsoleCatalogsComplete: every console catalog has every key of en
// with the same placeholders, and no key en lacks.
func TestConsoleCatalogsComplete(t *testing.T) {
	en := readCatalog(t, "locales/console/en.json")
	if len(en) < 50 {
		t.Fatalf("console en.json has %d keys: the catalog is not where the console reads it", len(en))
	}
	catalogs := consoleCatalogs(t)
	var langs []string
	for _, p := range catalogs {
		lang := strings.TrimSuffix(path.Base(p), ".json")
		langs = append(langs, lang)
		if !slices.Contains(consoleLanguages, lang) {
			t.Errorf("%s: %q is not a language the console offers", p, lang)
		}
		checkCatalog(t, p, readCatalog(t, p), en, "console en.json")
	}
	// Every language the widget speaks, the console speaks.
	for _, lang := range consoleLanguages {
		if !slices.Contains(langs, lang) {
			t.Errorf("no console catalog for %s (have %v)", lang, langs)
		}
	}
}

var (
	i18nAttrRE = regexp.MustCompile(`\bdata-i18n(?:-placeholder|-aria-label|-title)?="([^"]+)"`)
	// t("key") and t("key", {...}) in the console's modules; a key built at
	// run time must be spelled out where it is chosen (see guide.js).
	i18nCallRE = regexp.MustCompile(`\bt\(\s*["']([A-Za-z0-9_.]+)["']`)
)

// consoleKeysUsed lists every key the console's page and modules name.
func consoleKeysUsed(t *testing.T) map[string]string {
	t.Helper()
	used := map[string]string{}
	entries, err := fs.ReadDir(Static(), "guide")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := path.Join("guide", e.Name())
		b, err := fs.ReadFile(Static(), p)
		if err != nil {
			t.Fatal(err)
		}
		var re *regexp.Regexp
		switch path.Ext(p) {
		case ".html":
			re = i18nAttrRE
		case ".js":
			re = i18nCallRE
		default:
			continue
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = p
		}
	}
	return used
}

// TestConsoleKeysDefined: every key the console names is in its en
// catalog (and so, by TestConsoleCatalogsComplete, in every catalog).
func TestConsoleKeysDefined(t *testing.T) {
	en := readCatalog(t, "locales/console/en.json")
	used := consoleKeysUsed(t)
	if len(used) < 50 {
		t.Fatalf("found only %d keys in guide/: the patterns are broken", len(used))
	}
	for k, where := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("%s names %q, which console en.json lacks", where, k)
		}
	}
}

func TestConsoleKeyPatterns(t *testing.T) {
	src := `el.textContent = t("offer.title"); x = t('presence.away', { n: 2 }); ok = at("no.key");`
	var got []string
	for _, m := range i18nCallRE.FindAllStringSubmatch(src, -1) {
		got = append(got, m[1])
	}
	if !slices.Equal(got, []string{"offer.title", "presence.away"}) {
		t.Fatalf("t() pattern found %v", got)
	}
	html := `<h2 data-i18n="a.b">x</h2><input data-i18n-placeholder="c.d"><div data-i18n-aria-label="e">`
	got = nil
	for _, m := range i18nAttrRE.FindAllStringSubmatch(html, -1) {
		got = append(got, m[1])
	}
	if !slices.Equal(got, []string{"a.b", "c.d", "e"}) {
		t.Fatalf("attribute pattern found %v", got)
	}
}

var placeholderRE = regexp.MustCompile(`\{\w+\}`)

// checkCatalog reports what catalog m (read from p) lacks against en, the
// catalog named enName: a key, or a placeholder that differs; and every key
// en does not have, which is never shown.
func checkCatalog(t *testing.T, p string, m, en map[string]string, enName string) {
	t.Helper()
	for k, v := range en {
		if strings.TrimSpace(m[k]) == "" {
			t.Errorf("%s: missing %q", p, k)
			continue
		}
		// A translation keeps every placeholder and adds none.
		want, got := placeholderRE.FindAllString(v, -1), placeholderRE.FindAllString(m[k], -1)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Errorf("%s: %q has placeholders %v, en has %v", p, k, got, want)
		}
	}
	for k := range m {
		if _, ok := en[k]; !ok {
			t.Errorf("%s: %q is not in %s (never shown)", p, k, enName)
		}
	}
}

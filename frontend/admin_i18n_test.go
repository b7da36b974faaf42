package frontend

import (
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// adminCatalogs are the dashboard's catalogs, locales/admin/<lang>.json,
// apart from the widget's and the console's so no page loads another's.
func adminCatalogs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, p := range filesWithExt(t, ".json") {
		if path.Dir(p) == "locales/admin" {
			out = append(out, p)
		}
	}
	return out
}

// TestAdminCatalogsComplete: a dashboard catalog for each of the fourteen
// languages, each with every key of en and the same placeholders, and no
// key en lacks.
func TestAdminCatalogsComplete(t *testing.T) {
	en := readCatalog(t, "locales/admin/en.json")
	catalogs := adminCatalogs(t)
	if len(catalogs) != len(consoleLanguages) {
		t.Errorf("want %d dashboard catalogs, have %v", len(consoleLanguages), catalogs)
	}
	for _, p := range catalogs {
		if lang := strings.TrimSuffix(path.Base(p), ".json"); !slices.Contains(consoleLanguages, lang) {
			t.Errorf("%s: %q is not a language the pages offer", p, lang)
		}
		checkCatalog(t, p, readCatalog(t, p), en, "the dashboard's en.json")
	}
}

// TestAdminKeysDefined: every key the dashboard's page and modules name is
// in its en catalog, and every key there is named somewhere.
func TestAdminKeysDefined(t *testing.T) {
	en := readCatalog(t, "locales/admin/en.json")
	used := map[string]string{}
	entries, err := fs.ReadDir(Static(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := path.Join("admin", e.Name())
		var re *regexp.Regexp
		switch path.Ext(p) {
		case ".html":
			re = i18nAttrRE
		case ".js":
			re = i18nCallRE
		default:
			continue
		}
		b, err := fs.ReadFile(Static(), p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = p
		}
	}
	if len(used) < 50 {
		t.Fatalf("found only %d keys in admin/: the patterns are broken", len(used))
	}
	for k, where := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("%s names %q, which the dashboard's en.json lacks", where, k)
		}
	}
	for k := range en {
		if _, ok := used[k]; !ok {
			t.Errorf("the dashboard's en.json has %q, which nothing names", k)
		}
	}
}

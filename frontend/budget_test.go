package frontend

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"strings"
	"testing"
)

// widgetBudget is what a shopper may download before a call: the loader,
// the panel and every module it imports, its styles and its catalogs.
const widgetBudget = 30 << 10

// TestWidgetSizeBudget follows the loader's static import graph from widget.js and
// sums the gzipped size of everything on it, with the English catalog and
// the largest other one (a shopper loads both: English fills gaps).
func TestWidgetSizeBudget(t *testing.T) {
	static := Static()
	read := func(p string) []byte {
		b, err := fs.ReadFile(static, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return b
	}
	loader := string(read("widget.js"))
	if !strings.Contains(loader, `"shop/shop.js"`) {
		t.Fatal(`widget.js no longer imports "shop/shop.js": update this budget's entry point`)
	}
	files := map[string]bool{"widget.js": true}
	queue := []string{"shop/shop.js"}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		if files[f] {
			continue
		}
		files[f] = true
		// Static imports only: what a dynamic import() brings comes with
		// the call, not before it.
		for _, m := range importRE.FindAllStringSubmatch(string(read(f)), -1) {
			if p, ok := resolve(f, m[1]+m[2]); ok && m[1]+m[2] != "" {
				queue = append(queue, p)
			}
		}
	}
	if !strings.Contains(string(read("shop/shop.js")), `"css/widget.css"`) {
		t.Fatal(`shop.js no longer loads "css/widget.css": update this budget`)
	}
	files["css/widget.css"] = true
	// A shopper loads one catalog, its own (en only when its own fails):
	// count the largest.
	largest, largestSize := "", 0
	for _, p := range widgetCatalogs(t) { // the console's catalogs are not the widget's
		if n := gzipSize(t, read(p)); n > largestSize {
			largest, largestSize = p, n
		}
	}
	if largest != "" {
		files[largest] = true
	}

	total := 0
	for f := range files {
		n := gzipSize(t, read(f))
		t.Logf("%6d B gzipped  %s", n, f)
		total += n
	}
	t.Logf("%6d B gzipped in all (budget %d)", total, widgetBudget)
	if total > widgetBudget {
		t.Errorf("the widget loads %d B gzipped before a call, over the %d B budget", total, widgetBudget)
	}
	if len(files) < 6 {
		t.Errorf("only %d files on the widget's graph: the import walk is broken", len(files))
	}
}

func gzipSize(t *testing.T, b []byte) int {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}

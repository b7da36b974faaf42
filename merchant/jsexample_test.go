package merchant_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"guidecall/webhook"
)

// The JavaScript verification example of docs/webhooks.md, run with node
// against real signatures: a good one, a tampered body, another secret
// and a stale timestamp. Skips without node unless GUIDECALL_REQUIRE_NODE=1.
func TestJavaScriptVerificationExample(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("GUIDECALL_REQUIRE_NODE") == "1" {
			t.Fatal("node is required (GUIDECALL_REQUIRE_NODE=1) but not on PATH")
		}
		t.Skip("node not on PATH: the JavaScript example of docs/webhooks.md is not run")
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "webhooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```js\n")
	code, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/webhooks.md has no ```js block")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "verify.mjs"), []byte(code), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := "whsec_js"
	body := `{"id":"evt_js","type":"payment.succeeded","created":1767225600,"data":{}}`
	now := time.Now()
	cases := []struct {
		name, secret, header, body string
		want                       string
	}{
		{"good", secret, webhook.Sign([]byte(secret), now, []byte(body)), body, "ok evt_js"},
		{"tampered", secret, webhook.Sign([]byte(secret), now, []byte(body)), strings.Replace(body, "evt_js", "evt_jz", 1), "no matching v1 signature"},
		{"other secret", "whsec_other", webhook.Sign([]byte(secret), now, []byte(body)), body, "no matching v1 signature"},
		{"stale", secret, webhook.Sign([]byte(secret), now.Add(-6*time.Minute), []byte(body)), body, "timestamp outside tolerance"},
		{"future", secret, webhook.Sign([]byte(secret), now.Add(6*time.Minute), []byte(body)), body, "timestamp outside tolerance"},
		{"missing", secret, "", body, "malformed Guidecall-Signature"},
	}
	harness := `import { verifyGuidecallSignature } from "./verify.mjs";
const [secret, header, body] = process.argv.slice(2);
try { const ev = verifyGuidecallSignature(secret, header, Buffer.from(body, "utf8")); console.log("ok " + ev.id); }
catch (e) { console.log(e.message); }
`
	if err := os.WriteFile(filepath.Join(dir, "run.mjs"), []byte(harness), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		out, err := exec.Command(node, filepath.Join(dir, "run.mjs"), c.secret, c.header, c.body).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: node: %v\n%s", c.name, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, strconv.Quote(got), strconv.Quote(c.want))
		}
	}
}

// The Go example of docs/webhooks.md is the function Example_verifySignature
// runs, word for word.
func TestGoVerificationExampleMatchesTheDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "webhooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```go\n")
	code, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 || !strings.Contains(string(src), code) {
		t.Fatalf("the ```go block of docs/webhooks.md is not verifyGuidecallSignature of merchant/example_test.go:\n%s", code)
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"guidecall/internal/config"
	"guidecall/merchant"
)

// TestBrowserAdminManagesPaymentsAndWebhooks drives the dashboard's
// payments and webhooks sections: a rollout refused beside its field, then
// started, listed and stopped with its reason; the risk limits; a merchant
// endpoint added (its secret shown once) on a loopback server that first
// refuses, its delivery failing in the log with the 503s in its attempt
// log, replayed from the page and then delivered, signed with that secret.
func TestBrowserAdminManagesPaymentsAndWebhooks(t *testing.T) {
	chromium := findChromium(t)
	axe := findAxe(t)
	n := startNode(t, nodeOptions{tweak: func(c *config.Serve) {
		// A second provider to roll out; no link is created, so its API
		// (a closed loopback port) is never asked.
		c.Stripe.SecretKey, c.Stripe.WebhookSecret, c.Stripe.APIURL = "sk_test_e2e", "whsec_e2e", "http://127.0.0.1:9"
		// Two quick attempts, then the delivery gives up and can be replayed.
		c.MerchantRetrySchedule = []time.Duration{20 * time.Millisecond}
	}})
	tab, token := openAdmin(t, chromium, n, "#payments")
	tab.waitJS(t, "providers listed", browserStepTimeout,
		`!!document.querySelector('#pay-providers tr[data-provider="stripe"]') && !!document.querySelector('#pay-providers tr[data-provider="sandbox"]')`)
	if row := tab.text(t, `#pay-providers tr[data-provider="sandbox"]`); row != "sandbox0––0Closed" {
		t.Errorf("sandbox row %q", row)
	}

	// A share over 100%: the API's refusal stands beside the percent.
	tab.fill(t, "r-currency", "eur")
	tab.choose(t, "r-provider", "stripe")
	tab.choose(t, "r-incumbent", "sandbox")
	tab.fill(t, "r-percent", "150")
	if msg := tab.refused(t, "#rollout-save", "r-percent"); msg != "percent 0..100, margin 0..1, min_sample and window_seconds not negative" {
		t.Errorf("percent error %q", msg)
	}
	if ok, _ := tab.check(`document.getElementById("r-percent").getAttribute("aria-invalid") === "true"`); !ok {
		t.Error("the percent input is not marked invalid")
	}
	tab.reviewPage(t, axe, "rollout-refused")

	tab.fill(t, "r-percent", "10")
	tab.fill(t, "r-margin", "5")
	tab.submit(t, "#rollout-save", "rollout listed", `!!document.querySelector('#pay-rollouts tr[data-currency="EUR"]')`)
	if row := tab.text(t, `#pay-rollouts tr[data-currency="EUR"]`); !strings.HasPrefix(row, "EURstripesandbox10Running") {
		t.Errorf("rollout row %q", row)
	}
	var figures struct {
		Rollouts map[string]struct {
			Provider, Incumbent string
			Percent             int
			Margin              float64
			Stopped             bool
			StopReason          string `json:"stop_reason"`
		} `json:"rollouts"`
	}
	api(t, http.MethodGet, n.URL()+"/api/v1/admin/payment-providers", token, nil, &figures, http.StatusOK)
	if r := figures.Rollouts["EUR"]; r.Provider != "stripe" || r.Incumbent != "sandbox" || r.Percent != 10 || r.Margin != 0.05 || r.Stopped {
		t.Fatalf("rollout stored as %+v", r)
	}

	// The risk limits: an amount that is not one is refused before sending.
	tab.fill(t, "l-max_amount", "EUR 500 euros")
	tab.refused(t, "#limits-save", "l-max_amount")
	tab.fill(t, "l-max_amount", "EUR=50000, usd=60000")
	tab.fill(t, "l-max_links_per_call", "3")
	tab.submit(t, "#limits-save", "limits saved", `document.getElementById("limits-form-status").textContent !== ""`)
	var limits struct {
		MaxAmount       map[string]int64 `json:"max_amount"`
		MaxLinksPerCall int              `json:"max_links_per_call"`
	}
	api(t, http.MethodGet, n.URL()+"/api/v1/admin/payment-limits", token, nil, &limits, http.StatusOK)
	if limits.MaxAmount["EUR"] != 50000 || limits.MaxAmount["USD"] != 60000 || limits.MaxLinksPerCall != 3 {
		t.Fatalf("limits stored as %+v", limits)
	}
	tab.reviewPage(t, axe, "payments")

	// Stopping it: the reason shows in its row.
	tab.do(t, "stop the rollout", browserStepTimeout, chromedp.Click(chromedp.CSS(`#pay-rollouts tr[data-currency="EUR"] button[aria-label="Stop the EUR rollout"]`)))
	tab.waitJS(t, "rollout stopped", browserStepTimeout, `document.querySelector('#pay-rollouts tr[data-currency="EUR"]').textContent.includes("Stopped: set to 0% by an admin")`)

	// Webhooks: a URL that is not one is refused beside the field.
	recv := newMerchantReceiver(t)
	recv.setDown(true)
	tab.do(t, "open the webhooks", browserStepTimeout, chromedp.Navigate(n.URL()+"/admin/#webhooks"))
	tab.waitJS(t, "webhooks section", browserStepTimeout, `!document.getElementById("webhooks-view").hidden`)
	tab.fill(t, "w-url", "shop.example/hooks")
	tab.refused(t, "#endpoint-save", "w-url")
	tab.fill(t, "w-url", recv.srv.URL+"/guidecall")
	tab.fill(t, "w-events", "call.started")
	tab.fill(t, "w-description", "e2e shop")
	tab.submit(t, "#endpoint-save", "secret shown", `!document.getElementById("endpoint-secret").hidden`)
	secret := tab.evalString(t, `document.getElementById("endpoint-secret-value").textContent`)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown %q", secret)
	}
	recv.mu.Lock()
	recv.secret = secret
	recv.mu.Unlock()
	tab.waitJS(t, "endpoint listed", browserStepTimeout, `document.querySelector("#wh-endpoints tbody").textContent.includes("e2e shop")`)

	data, _ := json.Marshal(map[string]string{"call_id": "e2e-call"})
	if err := n.MerchantMemory.Record(context.Background(), merchant.Event{ID: "evt_e2e_call_started", Type: merchant.CallStarted, CreatedAt: time.Now(), Data: data}); err != nil {
		t.Fatal(err)
	}
	awaitDelivery(t, n.URL(), token, "call.started", 20*time.Second, func(d adminDelivery) bool { return d.Status == "failed" })
	tab.do(t, "refresh the deliveries", browserStepTimeout, chromedp.Click(chromedp.CSS("#wh-refresh")))
	tab.waitJS(t, "failed delivery listed", browserStepTimeout,
		`!!document.querySelector('#wh-deliveries tr[data-event="call.started"] button[aria-label="Replay call.started"]')`)
	if row := tab.text(t, `#wh-deliveries tr[data-event="call.started"]`); !strings.Contains(row, "Failed2HTTP 503") {
		t.Errorf("failed delivery row %q", row)
	}

	recv.setDown(false)
	tab.do(t, "replay", browserStepTimeout, chromedp.Click(chromedp.CSS(`#wh-deliveries tr[data-event="call.started"] button[aria-label="Replay call.started"]`)))
	recv.await(t, "call.started", 20*time.Second)
	awaitDelivery(t, n.URL(), token, "call.started", 20*time.Second, func(d adminDelivery) bool { return d.Status == "succeeded" })
	tab.do(t, "refresh the deliveries", browserStepTimeout, chromedp.Click(chromedp.CSS("#wh-refresh")))
	tab.waitJS(t, "delivered, three attempts logged", browserStepTimeout,
		`document.querySelector('#wh-deliveries tr[data-event="call.started"]').textContent.includes("Delivered") && document.querySelectorAll("#delivery-attempts tbody tr").length === 3`)
	if codes := tab.evalString(t, `[...document.querySelectorAll("#delivery-attempts tbody tr")].map((r) => r.cells[2].textContent).join(",")`); codes != "503,503,204" {
		t.Errorf("attempt log status codes %q", codes)
	}
	recv.mu.Lock()
	bad := recv.bad
	recv.mu.Unlock()
	if bad != 0 {
		t.Errorf("%d deliveries with a bad signature", bad)
	}
	tab.reviewPage(t, axe, "webhooks")

	// Disable, then delete.
	tab.do(t, "disable the endpoint", browserStepTimeout, chromedp.Click(chromedp.CSS(`#wh-endpoints tbody tr button:nth-of-type(2)`)))
	tab.waitJS(t, "endpoint disabled", browserStepTimeout, `document.querySelector("#wh-endpoints tbody").textContent.includes("Disabled")`)
	tab.do(t, "delete the endpoint", browserStepTimeout, chromedp.Click(chromedp.CSS(`#wh-endpoints tbody tr button[aria-label^="Delete"]`)))
	tab.waitJS(t, "endpoint gone", browserStepTimeout, `document.querySelectorAll("#wh-endpoints tbody tr").length === 0`)
	var eps struct {
		Endpoints []json.RawMessage `json:"endpoints"`
	}
	api(t, http.MethodGet, n.URL()+"/api/v1/admin/webhooks/endpoints", token, nil, &eps, http.StatusOK)
	if len(eps.Endpoints) != 0 {
		t.Fatalf("endpoints left: %s", eps.Endpoints)
	}
}

package app

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"
	"github.com/go-chi/chi/v5"

	"guidecall/internal/config"
	"guidecall/internal/db/dbtest"
	"guidecall/payments"
	"guidecall/protocol"
)

// notInContract are the routes the OpenAPI document leaves out, and why.
var notInContract = map[string]string{
	"/*": "the static pages and assets of package frontend",
}

// defaultConfig is serve's defaults on loopback with OS-chosen ports.
func defaultConfig(t *testing.T) config.Serve {
	t.Helper()
	var cfg config.Serve
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	cfg.Register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg.HTTPAddr, cfg.TURNListenIP, cfg.TURNPort = "127.0.0.1:0", "127.0.0.1", 0
	cfg.DemoGuide = config.Toggle{Given: true, On: false}
	return cfg
}

func loadContract(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPI)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// servedRoutes walks the node's router: route pattern → methods. A route
// registered for every method (a mounted handler such as the WebSocket
// endpoint) is reported as GET, the one it answers.
func servedRoutes(t *testing.T, stores Stores) map[string][]string {
	t.Helper()
	cfg := defaultConfig(t)
	a, err := New(cfg, stores, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	byRoute := map[string][]string{}
	err = chi.Walk(a.http.Handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		// chi names a sub-router mounted at "/" by "/*/"; a mount's own
		// root keeps a trailing slash.
		route = strings.ReplaceAll(route, "/*/", "/")
		if route != "/" {
			route = strings.TrimSuffix(route, "/")
		}
		if !slices.Contains(byRoute[route], method) {
			byRoute[route] = append(byRoute[route], method)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for route, methods := range byRoute {
		if slices.Contains(methods, http.MethodTrace) {
			byRoute[route] = []string{http.MethodGet}
		}
	}
	return byRoute
}

// TestOpenAPICoversTheRouter: the document is valid OpenAPI 3.1 with
// every example valid against its schema, names every route the router
// serves with its methods, and names nothing the router does not serve.
func TestOpenAPICoversTheRouter(t *testing.T) {
	doc := loadContract(t)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("openapi.json does not validate (examples included): %v", err)
	}
	served := servedRoutes(t, MemoryStores())
	if len(served) < 15 {
		t.Fatalf("walked only %d routes: %v", len(served), served)
	}
	// Some routes exist only on PostgreSQL (the merchant's webhooks): walk
	// that router too when there is a database (CI has one).
	pgWalked := false
	if os.Getenv("DATABASE_URL") != "" || os.Getenv("GUIDECALL_REQUIRE_PG") == "1" {
		_, url := dbtest.NewSchema(t)
		stores, err := PostgresStores(context.Background(), url, false, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		for route, methods := range servedRoutes(t, stores) {
			for _, m := range methods {
				if !slices.Contains(served[route], m) {
					served[route] = append(served[route], m)
				}
			}
		}
		pgWalked = true
	}
	for route, methods := range served {
		if _, skip := notInContract[route]; skip {
			continue
		}
		item := doc.Paths.Value(route)
		if item == nil {
			t.Errorf("the router serves %s %v, which openapi.json does not describe", route, methods)
			continue
		}
		for _, m := range methods {
			if item.GetOperation(m) == nil {
				t.Errorf("the router serves %s %s, which openapi.json does not describe", m, route)
			}
		}
	}
	for route, item := range doc.Paths.Map() {
		if !pgWalked && strings.HasPrefix(route, "/api/v1/admin/webhooks/") {
			continue // PostgreSQL only, and there is no database here
		}
		for m := range item.Operations() {
			if !slices.Contains(served[route], m) {
				t.Errorf("openapi.json describes %s %s, which the router does not serve", m, route)
			}
		}
	}
}

// The examples must be able to fail validation: a wrong one is caught.
func TestOpenAPIExampleValidationCanFail(t *testing.T) {
	doc := loadContract(t)
	doc.Paths.Value("/healthz").Get.Responses.Status(200).Value.Content["application/json"].Example = map[string]any{"status": 7}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err == nil {
		t.Fatal("an example of the wrong type validated")
	}
}

func TestOpenAPIServed(t *testing.T) {
	rec := httptest.NewRecorder()
	serveOpenAPI(rec, httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || rec.Body.String() != string(openAPI) {
		t.Fatalf("GET /api/openapi.json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// TestOpenAPIAnswersMatch sends real requests to a node and checks each
// request and answer against the document: the schemas are the API's.
func TestOpenAPIAnswersMatch(t *testing.T) {
	doc := loadContract(t)
	doc.Servers = nil // match paths as they are, on the test's own address
	router, err := legacyrouter.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig(t)
	a, err := New(cfg, MemoryStores(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.Auth.AddAccount(ctx, "admin@openapi.test", "Admin", "openapi admin password", protocol.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	check := contractChecker(t, router, a)
	check(http.MethodGet, "/healthz", "", "", 200)
	check(http.MethodGet, "/readyz", "", "", 200)
	check(http.MethodGet, "/api/openapi.json", "", "", 200)
	var pair struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	mustJSON(t, check(http.MethodPost, "/api/v1/auth/login", "", `{"email":"admin@openapi.test","password":"openapi admin password"}`, 200), &pair)
	check(http.MethodPost, "/api/v1/auth/login", "", `{"email":"admin@openapi.test","password":"wrong"}`, 401)
	check(http.MethodPost, "/api/v1/auth/refresh", "", `{"refresh_token":"`+pair.RefreshToken+`"}`, 200)
	check(http.MethodGet, "/api/v1/auth/me", pair.AccessToken, "", 200)
	check(http.MethodGet, "/api/v1/ice-servers", pair.AccessToken, "", 200)
	var joined struct {
		EntryID string `json:"entry_id"`
		Token   string `json:"token"`
	}
	mustJSON(t, check(http.MethodPost, "/api/v1/queue", "", `{"queue":"default","locale":"en","currency":"EUR","page_url":"https://shop.example/p/1","name":"Ann"}`, 201), &joined)
	check(http.MethodGet, "/api/v1/ice-servers", joined.Token, "", 403)
	check(http.MethodGet, "/api/v1/admin/queue?queue=default", pair.AccessToken, "", 200)
	check(http.MethodGet, "/api/v1/admin/calls/c_nope", pair.AccessToken, "", 404)
	check(http.MethodPost, "/api/v1/calls/c_nope/payment-links", pair.AccessToken, `{"amount":100,"currency":"EUR"}`, 403, "Idempotency-Key", "k1")
	check(http.MethodPost, "/webhooks/sandbox", "", `{"id":"evt_1","type":"payment.succeeded","ref":"sbx_1","created":1}`, 400)
	check(http.MethodGet, "/pay/sandbox/sbx_nope", "", "", 404)
	check(http.MethodGet, "/api/v1/privacy", "", "", 200)
	check(http.MethodGet, "/api/v1/queues/default/status", "", "", 200)
	check(http.MethodGet, "/api/v1/queues/nope/status", "", "", 404)
	check(http.MethodGet, "/api/v1/admin/queues", pair.AccessToken, "", 200)
	check(http.MethodGet, "/api/v1/admin/queues/default", pair.AccessToken, "", 200)
	check(http.MethodGet, "/api/v1/callbacks", pair.AccessToken, "", 200)
	check(http.MethodGet, "/api/v1/admin/accounts", pair.AccessToken, "", 200)
	check(http.MethodPost, "/api/v1/admin/accounts", pair.AccessToken, `{"email":"nia@openapi.test","name":"Nia","password":"a long enough password"}`, 201)
	check(http.MethodPost, "/api/v1/admin/accounts", pair.AccessToken, `{"email":"nia@openapi.test","name":"Nia","password":"a long enough password"}`, 409)
	check(http.MethodPost, "/api/v1/admin/accounts", pair.AccessToken, `{"email":"ole@openapi.test","name":"Ole","password":"short"}`, 400)
	check(http.MethodDelete, "/api/v1/admin/shoppers/"+joined.EntryID, pair.AccessToken, "", 204)
	adminToken := pair.AccessToken

	// Queues, guides and callbacks (issue 8).
	check(http.MethodPost, "/api/v1/admin/queues", adminToken,
		`{"name":"shoes","display_name":"Shoes","time_zone":"Europe/Berlin","max_wait_seconds":600,"wrap_up_seconds":30,"offer_timeout_seconds":20,"relax":[{"after_seconds":60,"action":"drop_skill"}]}`, 201)
	check(http.MethodPatch, "/api/v1/admin/queues/shoes", adminToken, `{"display_name":"Shoes and boots","hours":{"mon":[{"open":"09:00","close":"18:00"}]}}`, 200)
	guide, err := a.Auth.AddAccount(ctx, "guide@openapi.test", "Ada", "openapi guide password", protocol.RoleGuide)
	if err != nil {
		t.Fatal(err)
	}
	check(http.MethodPut, "/api/v1/admin/guides/"+guide.ID, adminToken, `{"queues":["default","shoes"],"languages":["de","en"],"skills":["running"],"capacity":1}`, 200)
	check(http.MethodGet, "/api/v1/admin/guides/"+guide.ID, adminToken, "", 200)
	var cb struct {
		CallbackID string `json:"callback_id"`
	}
	mustJSON(t, check(http.MethodPost, "/api/v1/queues/default/callbacks", "", `{"name":"Ann","email":"ann@example.com","locale":"en","message":"size 38?"}`, 201), &cb)
	var guidePair struct {
		AccessToken string `json:"access_token"`
	}
	mustJSON(t, check(http.MethodPost, "/api/v1/auth/login", "", `{"email":"guide@openapi.test","password":"openapi guide password"}`, 200), &guidePair)
	check(http.MethodGet, "/api/v1/callbacks", guidePair.AccessToken, "", 200)
	check(http.MethodPost, "/api/v1/callbacks/"+cb.CallbackID+"/claim", guidePair.AccessToken, "", 200)
	check(http.MethodPost, "/api/v1/callbacks/"+cb.CallbackID+"/outcome", guidePair.AccessToken, `{"outcome":"reached","note":"ordered the 38"}`, 200)
	check(http.MethodGet, "/api/v1/calls/c_nope/context", guidePair.AccessToken, "", 404)
	check(http.MethodPut, "/api/v1/admin/products", adminToken, `[{"product_id":"sneaker","name":"Merino wool sneaker","variant":"EU 42","price":12900,"currency":"EUR"}]`, 200)
	check(http.MethodPut, "/api/v1/admin/products", adminToken, `[{"product_id":"sneaker","name":"","price":12900,"currency":"EUR"}]`, 400)
	check(http.MethodGet, "/api/v1/admin/products", adminToken, "", 200)
	check(http.MethodGet, "/api/v1/products?q=wool", guidePair.AccessToken, "", 200)
	check(http.MethodPost, "/api/v1/admin/replies", adminToken, `{"title":"Sizing","text":"Runs small: one size up."}`, 201)
	check(http.MethodGet, "/api/v1/admin/replies", adminToken, "", 200)
	check(http.MethodDelete, "/api/v1/admin/replies/rp_nope", adminToken, "", 404)
	check(http.MethodPost, "/api/v1/replies", guidePair.AccessToken, `{"title":"Hello","text":"Hello, I am your guide."}`, 201)
	check(http.MethodPost, "/api/v1/replies", guidePair.AccessToken, `{"title":"","text":"x"}`, 400)
	check(http.MethodGet, "/api/v1/replies", guidePair.AccessToken, "", 200)
	check(http.MethodDelete, "/api/v1/replies/rp_nope", guidePair.AccessToken, "", 404)
	check(http.MethodPost, "/api/v1/products/preview", guidePair.AccessToken, `{"url":"http://10.0.0.5/p"}`, 403)
	check(http.MethodPost, "/api/v1/queue", "", `{"currency":"EUR","device":"phone"}`, 201)

	// The guide's wrap-up and history (issue 12).
	check(http.MethodGet, "/api/v1/guide/calls?q=trail&from=2026-12-01&to=2026-12-31&limit=20", guidePair.AccessToken, "", 200)
	check(http.MethodGet, "/api/v1/guide/calls?from=yesterday", guidePair.AccessToken, "", 400)
	check(http.MethodGet, "/api/v1/guide/queue", guidePair.AccessToken, "", 200)
	check(http.MethodPut, "/api/v1/calls/c_nope/wrap-up", guidePair.AccessToken, `{"outcome":"sold","notes":"x"}`, 404)
	check(http.MethodPut, "/api/v1/calls/c_nope/wrap-up", guidePair.AccessToken, `{"outcome":"sold","notes":"a\u0000b"}`, 400)

	// Limits, the sandbox's script, providers and rollouts, refunds (issue 9).
	check(http.MethodPut, "/api/v1/admin/payment-limits", adminToken, `{"max_amount":{"EUR":50000},"max_links_per_call":5,"refund_admin_above":{"EUR":10000}}`, 200)
	check(http.MethodGet, "/api/v1/admin/payment-limits", adminToken, "", 200)
	check(http.MethodPut, "/api/v1/admin/sandbox/script", adminToken, `{"create_delay_ms":0,"duplicates":0}`, 200)
	check(http.MethodGet, "/api/v1/admin/sandbox/script", adminToken, "", 200)
	check(http.MethodPost, "/api/v1/admin/sandbox/script/release", adminToken, `{"count":1,"order":"oldest"}`, 200)
	check(http.MethodPut, "/api/v1/admin/payment-providers/rollouts", adminToken, `{"currency":"EUR","provider":"sandbox","incumbent":"sandbox","percent":10}`, 422)
	check(http.MethodPut, "/api/v1/admin/payment-providers/rollouts", adminToken, `{"currency":"EUR","provider":"nope","incumbent":"sandbox","percent":10}`, 404)
	link, _, err := a.Payments.CreateLink(ctx, payments.CreateLinkParams{CallID: "c_openapi", Amount: 2500, Currency: "EUR", IdempotencyKey: "openapi-1", CreatedBy: guide.ID})
	if err != nil {
		t.Fatal(err)
	}
	paid := make(chan struct{})
	var paidOnce sync.Once
	unsubscribe := a.Payments.Subscribe(payments.SubscribeConfig{Name: "openapi-test"}, func(_ context.Context, ev payments.Event) {
		if ch, ok := ev.(payments.LinkStatusChanged); ok && ch.Link.ID == link.ID && ch.To == payments.StatusPaid {
			paidOnce.Do(func() { close(paid) })
		}
	})
	defer unsubscribe()
	check(http.MethodPost, "/pay/sandbox/"+link.ProviderRef+"/pay", "", "", 200, "Accept", "application/json")
	select {
	case <-paid:
	case <-time.After(10 * time.Second):
		t.Fatal("the sandbox payment never reached the link")
	}
	check(http.MethodGet, "/api/v1/admin/payment-providers?currency=EUR", adminToken, "", 200)
	check(http.MethodPost, "/api/v1/admin/payment-links/"+link.ID+"/refunds", adminToken, `{"amount":500}`, 201, "Idempotency-Key", "refund-1")
	check(http.MethodGet, "/api/v1/admin/payment-links/"+link.ID, adminToken, "", 200)
	check(http.MethodGet, "/api/v1/admin/stats?from=2026-12-01&to=2026-12-07&tz=Europe/Berlin", adminToken, "", 200)
	check(http.MethodGet, "/api/v1/admin/stats", adminToken, "", 200)
	check(http.MethodGet, "/api/v1/admin/stats?tz=Mars/Olympus", adminToken, "", 400)
	check(http.MethodGet, "/api/v1/admin/stats", guidePair.AccessToken, "", 403)

	var again struct {
		RefreshToken string `json:"refresh_token"`
	}
	mustJSON(t, check(http.MethodPost, "/api/v1/auth/login", "", `{"email":"admin@openapi.test","password":"openapi admin password"}`, 200), &again)
	check(http.MethodPost, "/api/v1/auth/logout", "", `{"refresh_token":"`+again.RefreshToken+`"}`, 204)
}

// contractChecker sends a request to node a, checks it and the answer
// against the document, and returns the answer's body.
// Pages (the sandbox checkout's, even when it cannot be paid) are strings
// to the document. Registered once, before any test validates a body.
func init() { openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder) }

func contractChecker(t *testing.T, router routers.Router, a *App) func(method, path, token, body string, want int, header ...string) []byte {
	ctx := context.Background()
	return func(method, path, token, body string, want int, header ...string) []byte {
		t.Helper()
		req, err := http.NewRequest(method, a.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s: not in the document: %v", method, path, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Fatalf("%s %s: the request does not match the document: %v", method, path, err)
		}
		req.Body = io.NopCloser(strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(b)
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s %s: the %d answer does not match the document: %v\n%s", method, path, resp.StatusCode, err, b)
		}
		return b
	}
}

// TestOpenAPIMerchantAnswersMatch does the same for the merchant webhook
// admin routes, which exist only on PostgreSQL.
func TestOpenAPIMerchantAnswersMatch(t *testing.T) {
	_, url := dbtest.NewSchema(t)
	doc := loadContract(t)
	doc.Servers = nil
	router, err := legacyrouter.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	stores, err := PostgresStores(ctx, url, false, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig(t)
	cfg.DatabaseURL = url
	a, err := New(cfg, stores, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Auth.AddAccount(ctx, "admin@openapi.test", "Admin", "openapi admin password", protocol.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	check := contractChecker(t, router, a)
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	mustJSON(t, check(http.MethodPost, "/api/v1/auth/login", "", `{"email":"admin@openapi.test","password":"openapi admin password"}`, 200), &pair)
	admin := pair.AccessToken
	var ep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	mustJSON(t, check(http.MethodPost, "/api/v1/admin/webhooks/endpoints", admin,
		`{"url":"https://shop.example/guidecall","description":"shop"}`, 201), &ep)
	if ep.ID == "" || ep.Secret == "" {
		t.Fatalf("created endpoint %+v", ep)
	}
	// A payment link is an event for the endpoint: its delivery is recorded
	// in the link's transaction, so it is listed at once.
	if _, _, err := a.Payments.CreateLink(ctx, payments.CreateLinkParams{CallID: "c_openapi", Amount: 2500, Currency: "EUR", IdempotencyKey: "openapi-1", CreatedBy: "g_1"}); err != nil {
		t.Fatal(err)
	}
	var listed struct {
		Deliveries []struct {
			ID string `json:"id"`
		} `json:"deliveries"`
	}
	mustJSON(t, check(http.MethodGet, "/api/v1/admin/webhooks/deliveries?endpoint_id="+ep.ID, admin, "", 200), &listed)
	if len(listed.Deliveries) == 0 {
		t.Fatal("no delivery listed for the payment link's event")
	}
	check(http.MethodGet, "/api/v1/admin/webhooks/deliveries/"+listed.Deliveries[0].ID, admin, "", 200)
	check(http.MethodGet, "/api/v1/admin/webhooks/endpoints", admin, "", 200)
	check(http.MethodGet, "/api/v1/admin/webhooks/endpoints/"+ep.ID, admin, "", 200)
	check(http.MethodPatch, "/api/v1/admin/webhooks/endpoints/"+ep.ID, admin, `{"enabled":false,"events":[]}`, 200)
	check(http.MethodGet, "/api/v1/admin/webhooks/deliveries/wd_nope", admin, "", 404)
	check(http.MethodDelete, "/api/v1/admin/webhooks/endpoints/"+ep.ID, admin, "", 204)
	check(http.MethodGet, "/api/v1/admin/webhooks/endpoints/"+ep.ID, admin, "", 404)
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

package sandbox

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/httpjson"
	"guidecall/payments"
)

// CheckoutRoutes serves the sandbox's hosted checkout; the wiring mounts it
// at /pay/sandbox (the path of CheckoutBaseURL).
//
//	GET  /{ref}        the checkout page
//	POST /{ref}/pay    the shopper pays: payment.succeeded webhook
//	POST /{ref}/fail   the shopper declines: payment.failed webhook
//
// POST answers JSON {"ref","status"} when Accept asks for application/json,
// an HTML page otherwise.
func (sb *Sandbox) CheckoutRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/{ref}", sb.handleCheckout)
	r.Post("/{ref}/pay", func(w http.ResponseWriter, r *http.Request) { sb.handleOutcome(w, r, true) })
	r.Post("/{ref}/fail", func(w http.ResponseWriter, r *http.Request) { sb.handleOutcome(w, r, false) })
	return r
}

type checkoutItem struct {
	Name     string
	Quantity int64
	Unit     string
	Total    string
}

type checkoutPage struct {
	Ref, Description, Total, Status, Message string
	Items                                    []checkoutItem
	Open                                     bool
	T                                        checkoutText
}

// PayLabel is the pay button's text in the page's language.
func (p checkoutPage) PayLabel() string { return fmt.Sprintf(p.T.Pay, p.Total) }

// StatusLabel is the link's status in the page's language.
func (p checkoutPage) StatusLabel() string {
	if s, ok := p.T.States[p.Status]; ok {
		return s
	}
	return p.Status
}

// The page has no external assets and no script at all: two plain forms.
// Relative form actions resolve against /pay/sandbox/{ref}, so the page
// works wherever the routes are mounted.
var checkoutTmpl = template.Must(template.New("checkout").Parse(`<!doctype html>
<html lang="{{.T.Lang}}" dir="{{.T.Dir}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#222}
table{width:100%;border-collapse:collapse}td{padding:.3rem 0}td.n{text-align:end}
.total{font-size:1.5rem;font-weight:600;margin:1rem 0}
button{font-size:1rem;padding:.6rem 1.2rem;margin-inline-end:.5rem;border-radius:.4rem;border:1px solid #888}
.pay{background:#1a7f37;color:#fff;border-color:#1a7f37}
.note{color:#666;font-size:.85rem}
</style></head><body>
<h1>{{.T.Title}}</h1>
<p class="note">{{.T.TestMode}}</p>
{{with .Description}}<p>{{.}}</p>{{end}}
{{if .Items}}<table>{{range .Items}}<tr><td>{{.Quantity}} × {{.Name}}</td><td class="n">{{.Total}}</td></tr>{{end}}</table>{{end}}
<p class="total" id="total">{{.Total}}</p>
{{if .Message}}<p id="message">{{.Message}}</p>{{end}}
{{if .Open}}
<form method="post" action="{{.Ref}}/pay" style="display:inline"><button class="pay" id="pay" type="submit">{{.PayLabel}}</button></form>
<form method="post" action="{{.Ref}}/fail" style="display:inline"><button id="decline" type="submit">{{.T.Decline}}</button></form>
{{else}}<p id="status" data-status="{{.Status}}">{{.T.Status}}: {{.StatusLabel}}</p>{{end}}
</body></html>
`))

// pageOf is the checkout page of c as it stands now.
func (sb *Sandbox) pageOf(c Checkout) checkoutPage {
	st := c.StatusAt(sb.cfg.Now())
	p := c.Params
	pg := checkoutPage{
		Ref:         c.Ref,
		Description: p.Description,
		Total:       payments.Money{Amount: p.Amount, Currency: p.Currency}.String(),
		Status:      string(st),
		Open:        st == payments.StatusOpen,
	}
	for _, it := range p.Items {
		pg.Items = append(pg.Items, checkoutItem{
			Name:     it.Name,
			Quantity: it.Quantity,
			Unit:     payments.Money{Amount: it.UnitAmount, Currency: p.Currency}.String(),
			Total:    payments.Money{Amount: it.UnitAmount * it.Quantity, Currency: p.Currency}.String(),
		})
	}
	return pg
}

func (sb *Sandbox) handleCheckout(w http.ResponseWriter, r *http.Request) {
	ref := chi.URLParam(r, "ref")
	c, err := sb.store.CheckoutGet(r.Context(), ref)
	switch {
	case errors.Is(err, payments.ErrNotFound):
		http.Error(w, textFor(r).Unknown, http.StatusNotFound)
		return
	case err != nil:
		sb.log.Warn("sandbox checkout unavailable", "provider_ref", ref, "err", err)
		http.Error(w, textFor(r).Unavailable, http.StatusServiceUnavailable)
		return
	}
	pg := sb.pageOf(c)
	pg.T = textFor(r)
	sb.renderPage(w, http.StatusOK, pg)
}

func (sb *Sandbox) renderPage(w http.ResponseWriter, status int, pg checkoutPage) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := checkoutTmpl.Execute(w, pg); err != nil {
		sb.log.Error("render sandbox checkout", "provider_ref", pg.Ref, "err", err)
	}
}

func (sb *Sandbox) handleOutcome(w http.ResponseWriter, r *http.Request, paid bool) {
	ref := chi.URLParam(r, "ref")
	c, err := sb.outcome(r.Context(), ref, paid)
	st := c.StatusAt(sb.cfg.Now())
	wantJSON := strings.Contains(r.Header.Get("Accept"), "application/json")
	status := http.StatusOK
	switch {
	case errors.Is(err, payments.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, payments.ErrInvalidTransition):
		status = http.StatusConflict
	case err != nil:
		status = http.StatusServiceUnavailable
	}
	if wantJSON {
		switch {
		case status == http.StatusNotFound:
			httpjson.Error(w, status, "not_found", "unknown checkout")
			return
		case status == http.StatusConflict:
			httpjson.Error(w, status, "invalid_transition", err.Error())
			return
		case err != nil:
			sb.log.Warn("sandbox checkout outcome not recorded", "provider_ref", ref, "err", err)
			httpjson.Error(w, status, "store_unavailable", "checkout unavailable; retry shortly")
			return
		}
		httpjson.Write(w, status, map[string]string{"ref": ref, "status": string(st)})
		return
	}
	switch status {
	case http.StatusNotFound:
		http.Error(w, textFor(r).Unknown, status)
		return
	case http.StatusServiceUnavailable:
		if c.Ref == "" {
			// Nothing was recorded: the store did not answer.
			sb.log.Warn("sandbox checkout outcome not recorded", "provider_ref", ref, "err", err)
			http.Error(w, textFor(r).Unavailable, status)
			return
		}
	}
	pg := sb.pageOf(c)
	pg.T = textFor(r)
	switch {
	case err != nil:
		pg.Message = pg.T.NoLonger
	case paid:
		pg.Message = pg.T.Received
	default:
		pg.Message = pg.T.Declined
	}
	sb.renderPage(w, status, pg)
}

package sandbox

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/httpjson"
	"guidecall/payments"
)

// CheckoutRoutes serves the sandbox's hosted checkout; the wiring mounts it
// at /pay/sandbox (the path of CheckoutBaseURL).
//
//	GET  /{ref}            the checkout page, in the browser's language (or ?lang=)
//	POST /{ref}/pay        the shopper pays (form field method, card if absent):
//	                       payment.succeeded, or payment.processing for konbini
//	POST /{ref}/complete   the konbini payment arrives: payment.succeeded
//	POST /{ref}/fail       the shopper declines: payment.failed webhook
//
// POST answers JSON {"ref","status"} when Accept asks for application/json,
// an HTML page otherwise.
func (sb *Sandbox) CheckoutRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/{ref}", sb.handleCheckout)
	r.Post("/{ref}/pay", func(w http.ResponseWriter, r *http.Request) { sb.handleOutcome(w, r, "pay") })
	r.Post("/{ref}/complete", func(w http.ResponseWriter, r *http.Request) { sb.handleOutcome(w, r, "complete") })
	r.Post("/{ref}/fail", func(w http.ResponseWriter, r *http.Request) { sb.handleOutcome(w, r, "fail") })
	return r
}

type checkoutItem struct {
	Name     string
	Quantity int64
	Unit     string
	Total    string
}

type checkoutPage struct {
	Ref, Description, Total, Status, Message, Lang, Dir string
	// Back leads to the shopper's page with the link and the outcome
	// (?payment_link=…&payment=success|canceled), as Stripe's and Adyen's
	// return URLs do, so the widget there resumes the call and shows it.
	Back                  string
	Items                 []checkoutItem
	Open, Processing      bool
	Methods               []checkoutMethod
	T                     map[string]string
	PayLabel, KonbiniWait string
}

type checkoutMethod struct {
	ID, Label string
	Checked   bool
}

// The page has no external assets and no script at all: plain forms.
// Relative form actions resolve against /pay/sandbox/{ref}, so the page
// works wherever the routes are mounted.
var checkoutTmpl = template.Must(template.New("checkout").Parse(`<!doctype html>
<html lang="{{.Lang}}" dir="{{.Dir}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T.title}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.4}
table{width:100%;border-collapse:collapse}td{padding:.3rem 0}td.n{text-align:end}
.total{font-size:1.5rem;font-weight:600;margin:1rem 0}
fieldset{border:1px solid #ccc;border-radius:.4rem;margin:0 0 1rem;padding:.5rem .8rem}
legend{font-weight:600;padding:0 .3rem}
label.m{display:flex;gap:.5rem;align-items:center;padding:.45rem 0;font-size:1rem}
input[type=radio]{width:1.1rem;height:1.1rem}
button{font-size:1rem;padding:.6rem 1.2rem;margin-block:0 .5rem;margin-inline:0 .5rem;border-radius:.4rem;border:1px solid #888;background:#fff;color:#222}
button:focus-visible,input:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
.pay{background:#1a7f37;color:#fff;border-color:#1a7f37}
.note{color:#555;font-size:.85rem}
.wait{background:#fff8e1;border:1px solid #e0b400;border-radius:.4rem;padding:.6rem .8rem}
.back{display:inline-block;margin-block-start:1rem;padding:.6rem 0;font-size:1rem;color:#0b57d0}
a:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
</style></head><body>
<main>
<h1>{{.T.title}}</h1>
<p class="note">{{.T.test}}</p>
{{with .Description}}<p>{{.}}</p>{{end}}
{{if .Items}}<table>{{range .Items}}<tr><td>{{.Quantity}} × {{.Name}}</td><td class="n">{{.Total}}</td></tr>{{end}}</table>{{end}}
{{with .Total}}<p class="total" id="total">{{.}}</p>{{end}}
{{with .Message}}<p id="message" role="status">{{.}}</p>{{end}}
{{if .Open}}
<form method="post" action="{{.Ref}}/pay" id="pay-form">
<fieldset><legend>{{.T.method}}</legend>
{{range .Methods}}<label class="m"><input type="radio" name="method" value="{{.ID}}" id="method-{{.ID}}"{{if .Checked}} checked{{end}}> {{.Label}}</label>
{{end}}</fieldset>
<button class="pay" id="pay" type="submit">{{.PayLabel}}</button>
</form>
<form method="post" action="{{.Ref}}/fail"><button id="decline" type="submit">{{.T.decline}}</button></form>
{{else if .Processing}}
<p class="wait" id="konbini-wait">{{.KonbiniWait}}</p>
<form method="post" action="{{.Ref}}/complete"><button class="pay" id="complete" type="submit">{{.T.konbini_done}}</button></form>
<p id="status">{{.T.status}}: {{.Status}}</p>
{{else if .Status}}<p id="status">{{.T.status}}: {{.Status}}</p>{{end}}
{{with .Back}}<p><a class="back" id="back" href="{{.}}">{{$.T.back}}</a></p>{{end}}
</main>
</body></html>
`))

// statusMessages name the catalog's words for a checkout that can no
// longer be paid, by its status.
var statusMessages = map[payments.LinkStatus]string{
	payments.StatusExpired:           "expired_link",
	payments.StatusPaid:              "paid_already",
	payments.StatusPartiallyRefunded: "paid_already",
	payments.StatusRefunded:          "paid_already",
	payments.StatusFailed:            "failed_link",
	payments.StatusCanceled:          "canceled_link",
}

// backURL is the shopper's page with the link's id and the outcome in its
// query, the way Stripe's success and cancel URLs come back: "success"
// once paid or paying, "canceled" otherwise. "" when there is no page.
func (sb *Sandbox) backURL(c Checkout, st payments.LinkStatus) string {
	page := c.Params.ReturnURL
	if page == "" {
		page = sb.cfg.ReturnURL
	}
	u, err := url.Parse(page)
	if page == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	outcome := "canceled"
	switch st {
	case payments.StatusPaid, payments.StatusProcessing, payments.StatusPartiallyRefunded, payments.StatusRefunded:
		outcome = "success"
	}
	q := u.Query()
	q.Set("payment_link", c.Params.LinkID)
	q.Set("payment", outcome)
	u.RawQuery, u.Fragment = q.Encode(), ""
	return u.String()
}

// errorPage is a page without a checkout (unknown, or the store did not
// answer), in lang.
func errorPage(lang, key string) checkoutPage {
	t := catalog[lang]
	return checkoutPage{Lang: lang, Dir: map[bool]string{false: "ltr", true: "rtl"}[rtl[lang]], T: t, Message: t[key]}
}

// pageOf is the checkout page of c as it stands now, in lang.
func (sb *Sandbox) pageOf(c Checkout, lang string) checkoutPage {
	st := c.StatusAt(sb.cfg.Now())
	p := c.Params
	t := catalog[lang]
	money := func(a int64) string { return formatMoney(payments.Money{Amount: a, Currency: p.Currency}, lang) }
	pg := checkoutPage{
		Ref:         c.Ref,
		Lang:        lang,
		Dir:         map[bool]string{false: "ltr", true: "rtl"}[rtl[lang]],
		T:           t,
		Description: p.Description,
		Total:       money(p.Amount),
		Status:      t[string(st)],
		Open:        st == payments.StatusOpen,
		Processing:  st == payments.StatusProcessing,
	}
	if pg.Status == "" {
		pg.Status = string(st)
	}
	pg.Message = t[statusMessages[st]]
	pg.Back = sb.backURL(c, st)
	pg.PayLabel = fmt.Sprintf(t["pay"], pg.Total)
	// A number the shopper would take to the store: the checkout's, shortened.
	number := strings.ToUpper(strings.TrimPrefix(c.Ref, "sbx_"))
	pg.KonbiniWait = fmt.Sprintf(t["konbini_wait"], pg.Total, number[:min(12, len(number))])
	for i, m := range MethodsFor(p.Currency) {
		pg.Methods = append(pg.Methods, checkoutMethod{ID: m, Label: t[m], Checked: i == 0})
	}
	for _, it := range p.Items {
		pg.Items = append(pg.Items, checkoutItem{
			Name:     it.Name,
			Quantity: it.Quantity,
			Unit:     money(it.UnitAmount),
			Total:    money(it.UnitAmount * it.Quantity),
		})
	}
	return pg
}

func (sb *Sandbox) handleCheckout(w http.ResponseWriter, r *http.Request) {
	ref := chi.URLParam(r, "ref")
	c, err := sb.store.CheckoutGet(r.Context(), ref)
	switch {
	case errors.Is(err, payments.ErrNotFound):
		sb.renderPage(w, http.StatusNotFound, errorPage(pageLang(r), "unknown_link"))
		return
	case err != nil:
		sb.log.Warn("sandbox checkout unavailable", "provider_ref", ref, "err", err)
		sb.renderPage(w, http.StatusServiceUnavailable, errorPage(pageLang(r), "unavailable"))
		return
	}
	// pageOf already says why a closed checkout is closed (expired,
	// canceled, paid, failed) in the shopper's language.
	sb.renderPage(w, http.StatusOK, sb.pageOf(c, pageLang(r)))
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

func (sb *Sandbox) handleOutcome(w http.ResponseWriter, r *http.Request, action string) {
	ref := chi.URLParam(r, "ref")
	var c Checkout
	var err error
	paid := action != "fail"
	switch action {
	case "complete":
		c, err = sb.complete(r.Context(), ref)
	default:
		c, err = sb.checkoutMethod(r, ref)
		if err == nil {
			c, err = sb.outcome(r.Context(), ref, paid, r.PostFormValue("method"))
		}
	}
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
		sb.renderPage(w, status, errorPage(pageLang(r), "unknown_link"))
		return
	case http.StatusServiceUnavailable:
		if c.Ref == "" {
			// Nothing was recorded: the store did not answer.
			sb.log.Warn("sandbox checkout outcome not recorded", "provider_ref", ref, "err", err)
			sb.renderPage(w, status, errorPage(pageLang(r), "unavailable"))
			return
		}
	}
	pg := sb.pageOf(c, pageLang(r))
	switch {
	case status == http.StatusServiceUnavailable:
		pg.Message = pg.T["unavailable"]
	case err != nil:
		if pg.Message == "" { // pageOf names why a closed checkout is closed
			pg.Message = pg.T["closed"]
		}
	case pg.Processing:
	case paid:
		pg.Message = pg.T["thanks"]
	default:
		pg.Message = pg.T["declined"]
	}
	sb.renderPage(w, status, pg)
}

// checkoutMethod refuses a payment method the checkout does not offer.
func (sb *Sandbox) checkoutMethod(r *http.Request, ref string) (Checkout, error) {
	m := r.PostFormValue("method")
	if m == "" {
		return Checkout{}, nil
	}
	c, err := sb.store.CheckoutGet(r.Context(), ref)
	if err != nil {
		return Checkout{}, err
	}
	if !slices.Contains(MethodsFor(c.Params.Currency), m) {
		return c, fmt.Errorf("%w: method %q is not offered for %s", payments.ErrInvalidTransition, m, c.Params.Currency)
	}
	return Checkout{}, nil
}

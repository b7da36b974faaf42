package sandbox

import (
	"net/http"
	"strconv"
	"strings"

	"guidecall/payments"
)

// Payment methods the sandbox checkout offers, as a real one would for the
// link's currency: cards everywhere, iDEAL for euros (the Netherlands),
// GrabPay for Singapore and Malaysian dollars, konbini for yen, which
// completes later, at the store (asynchronously).
const (
	MethodCard    = "card"
	MethodIDEAL   = "ideal"
	MethodGrabPay = "grabpay"
	MethodKonbini = "konbini"
)

// MethodsFor lists the methods of a currency, card first.
func MethodsFor(currency string) []string {
	switch strings.ToUpper(currency) {
	case "EUR":
		return []string{MethodCard, MethodIDEAL}
	case "SGD", "MYR":
		return []string{MethodCard, MethodGrabPay}
	case "JPY":
		return []string{MethodCard, MethodKonbini}
	}
	return []string{MethodCard}
}

// asyncMethod reports whether a method is paid later: the checkout is
// processing until then.
func asyncMethod(m string) bool { return m == MethodKonbini }

// catalog holds the checkout's words per language (the locales the
// shopper page has too).
var catalog = map[string]map[string]string{
	"en": {"title": "Sandbox checkout", "test": "Test mode: no real money moves.", "method": "Payment method",
		"card": "Card", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (pay at a convenience store)",
		"pay": "Pay %s", "decline": "Decline", "status": "Status", "thanks": "Thank you: payment received.",
		"declined": "Payment declined.", "closed": "This payment can no longer be completed.",
		"konbini_wait": "Pay %s at any convenience store with number %s. This page updates when the store reports it.",
		"konbini_done": "Simulate payment at the store", "open": "open", "processing": "waiting for payment",
		"paid": "paid", "failed": "failed", "expired": "expired", "canceled": "canceled", "refunded": "refunded",
		"partially_refunded": "partially refunded"},
	"de": {"title": "Sandbox-Kasse", "test": "Testmodus: Es wird kein echtes Geld bewegt.", "method": "Zahlungsart",
		"card": "Karte", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (im Convenience Store zahlen)",
		"pay": "%s bezahlen", "decline": "Ablehnen", "status": "Status", "thanks": "Danke: Zahlung erhalten.",
		"declined": "Zahlung abgelehnt.", "closed": "Diese Zahlung kann nicht mehr abgeschlossen werden.",
		"konbini_wait": "Zahlen Sie %s in einem Convenience Store mit der Nummer %s. Diese Seite aktualisiert sich, sobald der Laden es meldet.",
		"konbini_done": "Zahlung im Laden simulieren", "open": "offen", "processing": "wartet auf Zahlung",
		"paid": "bezahlt", "failed": "fehlgeschlagen", "expired": "abgelaufen", "canceled": "storniert", "refunded": "erstattet",
		"partially_refunded": "teilweise erstattet"},
	"fr": {"title": "Paiement sandbox", "test": "Mode test : aucun argent réel n’est débité.", "method": "Moyen de paiement",
		"card": "Carte", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (payer en supérette)",
		"pay": "Payer %s", "decline": "Refuser", "status": "Statut", "thanks": "Merci : paiement reçu.",
		"declined": "Paiement refusé.", "closed": "Ce paiement ne peut plus être effectué.",
		"konbini_wait": "Payez %s dans une supérette avec le numéro %s. Cette page se met à jour dès que le magasin le signale.",
		"konbini_done": "Simuler le paiement en magasin", "open": "ouvert", "processing": "en attente de paiement",
		"paid": "payé", "failed": "échoué", "expired": "expiré", "canceled": "annulé", "refunded": "remboursé",
		"partially_refunded": "partiellement remboursé"},
	"es": {"title": "Pago de prueba", "test": "Modo de prueba: no se mueve dinero real.", "method": "Método de pago",
		"card": "Tarjeta", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (pagar en una tienda)",
		"pay": "Pagar %s", "decline": "Rechazar", "status": "Estado", "thanks": "Gracias: pago recibido.",
		"declined": "Pago rechazado.", "closed": "Este pago ya no se puede completar.",
		"konbini_wait": "Paga %s en cualquier tienda de conveniencia con el número %s. Esta página se actualiza cuando la tienda lo comunique.",
		"konbini_done": "Simular el pago en la tienda", "open": "abierto", "processing": "esperando el pago",
		"paid": "pagado", "failed": "fallido", "expired": "caducado", "canceled": "cancelado", "refunded": "reembolsado",
		"partially_refunded": "reembolsado en parte"},
	"ja": {"title": "サンドボックス決済", "test": "テストモード：実際のお金は動きません。", "method": "お支払い方法",
		"card": "カード", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "コンビニ払い",
		"pay": "%s を支払う", "decline": "辞退する", "status": "ステータス", "thanks": "ありがとうございます。お支払いを受け付けました。",
		"declined": "お支払いは辞退されました。", "closed": "このお支払いはもう完了できません。",
		"konbini_wait": "お近くのコンビニで番号 %[2]s を使って %[1]s をお支払いください。お店から通知があるとこのページが更新されます。",
		"konbini_done": "店頭での支払いをシミュレート", "open": "未払い", "processing": "お支払い待ち",
		"paid": "支払い済み", "failed": "失敗", "expired": "期限切れ", "canceled": "キャンセル", "refunded": "返金済み",
		"partially_refunded": "一部返金"},
}

// pageLang is the checkout's language: ?lang=, else the first of the
// browser's Accept-Language the catalog has, else English.
func pageLang(r *http.Request) string {
	if l := baseLang(r.URL.Query().Get("lang")); catalog[l] != nil {
		return l
	}
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if l := baseLang(tag); catalog[l] != nil {
			return l
		}
	}
	return "en"
}

func baseLang(tag string) string {
	l, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
	return l
}

// separators are the decimal and grouping marks of each language.
var separators = map[string][2]string{
	"en": {".", ","}, "ja": {".", ","}, "de": {",", "."}, "es": {",", "."}, "fr": {",", "\u202f"},
}

// formatMoney formats minor units for lang with integer arithmetic only:
// "1,234.56 EUR" in English, "1.234,56 EUR" in German, "4,200 JPY" in
// Japanese.
func formatMoney(m payments.Money, lang string) string {
	exp, err := payments.MinorUnits(m.Currency)
	if err != nil {
		return m.String()
	}
	sep, ok := separators[lang]
	if !ok {
		sep = separators["en"]
	}
	neg := m.Amount < 0
	a := m.Amount
	if neg {
		a = -a
	}
	digits := strconv.FormatInt(a, 10)
	for len(digits) <= exp {
		digits = "0" + digits
	}
	whole, frac := digits[:len(digits)-exp], digits[len(digits)-exp:]
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(sep[1])
		}
		b.WriteRune(c)
	}
	if exp > 0 {
		b.WriteString(sep[0])
		b.WriteString(frac)
	}
	b.WriteString(" " + strings.ToUpper(m.Currency))
	return b.String()
}

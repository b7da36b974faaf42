package callflow

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/text/language"

	"guidecall/payments"
)

// PaymentCallContext tells payments where a call's shopper came from: the
// page they joined from, if its origin is the node's or one of the
// merchant's (anything else would make the checkout an open redirect),
// and their country, from the locale's region.
func (f *Flow) PaymentCallContext(ctx context.Context, callID string) (payments.CallContext, error) {
	call, err := f.queue.CallRecord(ctx, callID)
	if err != nil {
		return payments.CallContext{}, fmt.Errorf("callflow: call %s: %w", callID, err)
	}
	entry, err := f.queue.Entry(ctx, call.EntryID)
	if err != nil {
		return payments.CallContext{}, fmt.Errorf("callflow: entry of call %s: %w", callID, err)
	}
	cc := payments.CallContext{Country: localeCountry(entry.Locale), Locale: canonicalLocale(entry.Locale)}
	if f.returnAllowed(entry.PageURL) {
		cc.ReturnURL = entry.PageURL
	} else if entry.PageURL != "" {
		f.log.Info("shopper's page is not on an allowed origin; the checkout returns to the shop page",
			"call_id", callID, "entry_id", entry.ID)
	}
	return cc, nil
}

// origin is scheme://host[:port] of an absolute http(s) URL, lower case.
func origin(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}

func (f *Flow) returnAllowed(page string) bool {
	o, ok := origin(page)
	if !ok || len(page) > 2048 {
		return false
	}
	if own, ok := origin(f.cfg.PublicURL); ok && own == o {
		return true
	}
	return slices.ContainsFunc(f.cfg.AllowedOrigins, func(s string) bool {
		allowed, ok := origin(s)
		return ok && allowed == o
	})
}

// canonicalLocale is locale as BCP 47 writes it ("nl_nl" -> "nl-NL"), or
// "" when it is not one.
func canonicalLocale(locale string) string {
	if locale == "" {
		return ""
	}
	tag, err := language.Parse(strings.ReplaceAll(locale, "_", "-"))
	if err != nil {
		return ""
	}
	return tag.String()
}

// localeCountry is the region of a BCP 47 locale ("nl-NL" -> "NL"), or ""
// when the locale names none (a guessed region would route by a guess).
func localeCountry(locale string) string {
	tag, err := language.Parse(strings.ReplaceAll(locale, "_", "-"))
	if err != nil {
		return ""
	}
	region, conf := tag.Region()
	if conf != language.Exact {
		return ""
	}
	return region.String()
}

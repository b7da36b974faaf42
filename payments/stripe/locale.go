package stripe

import "golang.org/x/text/language"

// checkoutLocales are the locales Stripe Checkout shows its page in
// (Checkout Session `locale`, besides "auto"), as of API 2025-03.
var checkoutLocales = []string{
	"bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr", "fr-CA",
	"hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt", "pt-BR",
	"ro", "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
}

// checkoutMatcher picks the nearest of checkoutLocales for a shopper's
// locale: regional variants go to the variant Stripe has (es-MX to es-419,
// pt-PT to pt, zh-Hant to zh-TW, no to nb), others to their language.
var checkoutMatcher = func() language.Matcher {
	tags := make([]language.Tag, len(checkoutLocales))
	for i, l := range checkoutLocales {
		tags[i] = language.MustParse(l)
	}
	return language.NewMatcher(tags)
}()

// checkoutLocale is the Checkout Session locale for a shopper's BCP 47
// locale: the nearest Stripe supports, or "auto" (the browser's) when
// there is none, the locale is empty or it does not parse. Only a match
// of the same language counts: Stripe has no Arabic, and an Arabic
// shopper is better served by their browser's choice than by English.
func checkoutLocale(bcp47 string) string {
	if bcp47 == "" {
		return "auto"
	}
	tag, err := language.Parse(bcp47)
	if err != nil {
		return "auto"
	}
	_, i, conf := checkoutMatcher.Match(tag)
	if conf < language.High {
		return "auto"
	}
	return checkoutLocales[i]
}

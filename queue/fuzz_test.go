package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"regexp"
	"testing"

	"guidecall/internal/cleantext"
	"guidecall/queue"
)

// The limits JoinParams documents, restated here so a change to either
// side shows up.
var (
	fuzzQueueRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	fuzzLocaleRE   = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$`)
	fuzzCurrencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
)

func FuzzJoinParams(f *testing.F) {
	f.Add("shoes", "en-GB", "EUR", "https://shop.example/p/1", "Ana")
	f.Add("", "", "JPY", "", "")
	f.Add("Shoes", "en_US", "eur", "javascript:alert(1)", "x")
	f.Add("a-b_c", "zh-Hant-TW", "KWD", "HTTP://shop.example/?q=%zz", "名前")
	f.Add("-x", "e", "EURO", "http://[::1", "\x00\xff")
	f.Add("shoes\n", "en\n", "EUR\n", "http://a\n", "n")
	f.Add("shoes", "en", "EUR", "https://a/\x00", "Zoe\u0301\u202E\u200B")
	svc, err := queue.NewService(queue.Config{
		Store:  queue.NewMemoryStore(),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := svc.CreateQueue(context.Background(), queue.Queue{Name: "shoes"}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q, locale, currency, page, name string) {
		in := queue.JoinParams{Queue: q, Locale: locale, Currency: currency, PageURL: page, Name: name}
		e, err := svc.Join(context.Background(), in)
		if err != nil {
			if errors.Is(err, queue.ErrNotFound) && fuzzQueueRE.MatchString(q) && q != "shoes" && q != "default" {
				return // well-formed, but nobody created that queue
			}
			if !errors.Is(err, queue.ErrInvalid) {
				t.Fatalf("Join(%+v) err = %v, want ErrInvalid", in, err)
			}
			return
		}
		if (q == "" && e.Queue != "default") || (q != "" && e.Queue != q) {
			t.Errorf("queue %q stored as %q", q, e.Queue)
		}
		if (locale == "" && e.Locale != "en") || (locale != "" && e.Locale != locale) {
			t.Errorf("locale %q stored as %q", locale, e.Locale)
		}
		clean, cerr := cleantext.Line(name, 80)
		if cerr != nil || e.Currency != currency || e.PageURL != page || e.Name != clean {
			t.Errorf("Join(%+v) stored %+v (name cleaned to %q, %v)", in, e, clean, cerr)
		}
		if cleantext.HasNUL(e.Name) || cleantext.HasNUL(e.PageURL) {
			t.Errorf("stored a NUL: %+v", e)
		}
		if !fuzzQueueRE.MatchString(e.Queue) || len(e.Queue) > 64 {
			t.Errorf("accepted queue %q", e.Queue)
		}
		if !fuzzLocaleRE.MatchString(e.Locale) || len(e.Locale) > 3+4*9 {
			t.Errorf("accepted locale %q", e.Locale)
		}
		if !fuzzCurrencyRE.MatchString(e.Currency) {
			t.Errorf("accepted currency %q", e.Currency)
		}
		if len(e.Name) > 80 {
			t.Errorf("accepted a name of %d bytes", len(e.Name))
		}
		if len(e.PageURL) > 2048 {
			t.Errorf("accepted a page_url of %d bytes", len(e.PageURL))
		}
		if e.PageURL != "" {
			u, err := url.Parse(e.PageURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				t.Errorf("accepted page_url %q (%v)", e.PageURL, err)
			}
		}
	})
}

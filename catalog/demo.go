package catalog

import "context"

// demoFeed is the demo shop's own range (frontend/static/shop), so a
// newcomer's first call has something to find and show.
func demoFeed(shopURL string) []Product {
	page := shopURL + "/shop/"
	out := []Product{}
	for _, size := range []string{"EU 40", "EU 41", "EU 42", "EU 43", "EU 44"} {
		out = append(out, Product{ProductID: "merino-sneaker", Name: "Merino wool sneaker", Variant: size, URL: page, Price: 12900, Currency: "EUR"})
	}
	return append(out,
		Product{ProductID: "wool-socks", Name: "Merino wool socks", Variant: "2 pairs", URL: page, Price: 1900, Currency: "EUR"},
		Product{ProductID: "trail-runner", Name: "Trail runner", Variant: "Blue", URL: page, Price: 15900, Currency: "EUR"},
	)
}

// SeedDemo fills an empty feed and empty merchant replies with the demo
// shop's, for `guidecall serve` on memory stores; a feed or replies that
// exist are left alone.
func (s *Service) SeedDemo(ctx context.Context, shopURL string) error {
	ps, err := s.List(ctx)
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		if err := s.Replace(ctx, demoFeed(shopURL), "demo"); err != nil {
			return err
		}
	}
	merchant, _, err := s.Replies(ctx, "")
	if err != nil || len(merchant) > 0 {
		return err
	}
	for _, r := range [][2]string{
		{"Sizing", "The Merino sneaker runs a little small: take one size up."},
		{"Delivery", "Orders before 3 pm ship today; delivery takes 1-2 working days."},
		{"Returns", "You can return anything within 30 days, free of charge."},
	} {
		if _, err := s.AddReply(ctx, merchantReplies, r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

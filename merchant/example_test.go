package merchant_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"guidecall/webhook"
)

// verifyGuidecallSignature is what a merchant's server runs on every
// webhook (docs/webhooks.md shows the same in JavaScript): it needs
// nothing of guidecall, only the endpoint's secret.
func verifyGuidecallSignature(secret, header string, body []byte, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("malformed Guidecall-Signature")
	}
	// Five minutes either way: an old or a far-future timestamp is a replay.
	if math.Abs(now.Sub(time.Unix(t, 0)).Seconds()) > 300 {
		return errors.New("timestamp outside tolerance")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	want := m.Sum(nil)
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching v1 signature")
}

func Example_verifySignature() {
	secret := "whsec_example"
	body := []byte(`{"id":"evt_pev_1","type":"payment.succeeded","created":1767225600,"data":{"payment_link":{"id":"pl_1"}}}`)
	sentAt := time.Unix(1767225600, 0)
	header := webhook.Sign([]byte(secret), sentAt, body) // what guidecall sends

	fmt.Println(verifyGuidecallSignature(secret, header, body, sentAt.Add(30*time.Second)))
	fmt.Println(verifyGuidecallSignature(secret, header, []byte(strings.Replace(string(body), "pl_1", "pl_2", 1)), sentAt))
	fmt.Println(verifyGuidecallSignature("whsec_other", header, body, sentAt))
	fmt.Println(verifyGuidecallSignature(secret, header, body, sentAt.Add(10*time.Minute)))
	// Output:
	// <nil>
	// no matching v1 signature
	// no matching v1 signature
	// timestamp outside tolerance
}

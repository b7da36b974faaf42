package webhook_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"guidecall/webhook"
)

func TestSignVerify(t *testing.T) {
	secret := []byte("whsec_test")
	body := []byte(`{"id":"evt_1"}`)
	at := time.Unix(1_772_366_400, 0)
	h := webhook.Sign(secret, at, body)
	if err := webhook.Verify(secret, h, body, at.Add(4*time.Minute), webhook.DefaultTolerance); err != nil {
		t.Fatalf("genuine signature refused: %v", err)
	}
	for name, tc := range map[string]struct {
		secret []byte
		header string
		body   []byte
		now    time.Time
	}{
		"wrong secret":    {[]byte("other"), h, body, at},
		"tampered body":   {secret, h, []byte(`{"id":"evt_2"}`), at},
		"too old":         {secret, h, body, at.Add(6 * time.Minute)},
		"from the future": {secret, h, body, at.Add(-6 * time.Minute)},
		"no header":       {secret, "", body, at},
		"no v1":           {secret, "t=1772366400", body, at},
		"two timestamps":  {secret, h + ",t=1772366400", body, at},
		"short v1":        {secret, "t=1772366400,v1=abcd", body, at},
	} {
		t.Run(name, func(t *testing.T) {
			if err := webhook.Verify(tc.secret, tc.header, tc.body, tc.now, webhook.DefaultTolerance); !errors.Is(err, webhook.ErrBadSignature) {
				t.Fatalf("Verify = %v, want ErrBadSignature", err)
			}
		})
	}
	// A second v1 (a rotated secret) and unknown schemes are accepted.
	other := webhook.Sign([]byte("old secret"), at, body)
	rotated := other + "," + h[strings.Index(h, "v1="):] + ",v2=whatever"
	if err := webhook.Verify(secret, rotated, body, at, webhook.DefaultTolerance); err != nil {
		t.Fatalf("rotated header refused: %v", err)
	}
}

// A merchant verifies a guidecall webhook with the shared secret.
func ExampleVerify() {
	secret := []byte("whsec_demo")
	body := []byte(`{"id":"evt_1","type":"payment.succeeded","ref":"sbx_1","created":1772366400}`)
	at := time.Unix(1772366400, 0)
	header := webhook.Sign(secret, at, body)

	fmt.Println(webhook.Verify(secret, header, body, at.Add(time.Minute), webhook.DefaultTolerance))
	fmt.Println(webhook.Verify(secret, header, body, at.Add(time.Hour), webhook.DefaultTolerance) != nil)
	// Output:
	// <nil>
	// true
}

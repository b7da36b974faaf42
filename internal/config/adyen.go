package config

import (
	"flag"
	"fmt"
)

// Adyen configures the Adyen provider (Pay by Link); it is on when APIKey
// is set.
type Adyen struct {
	APIKey          string
	MerchantAccount string
	HMACKey         string
	HMACKeyPrevious string
	APIURL          string
}

// Register adds the Adyen flags.
func (a *Adyen) Register(fs *flag.FlagSet) {
	fs.StringVar(&a.APIKey, "adyen-api-key", "", "Adyen API key (X-API-Key); set, the adyen provider makes Pay by Link links and POST /webhooks/adyen takes its standard notifications")
	fs.StringVar(&a.MerchantAccount, "adyen-merchant-account", "", "Adyen merchant account the links are made for and notifications must name; required with the key")
	fs.StringVar(&a.HMACKey, "adyen-hmac-key", "", "hex HMAC key of the standard notification webhook that posts to /webhooks/adyen; required with the key")
	fs.StringVar(&a.HMACKeyPrevious, "adyen-hmac-key-previous", "", "the HMAC key before the last rotation, still accepted while Adyen switches over; empty when not rotating")
	fs.StringVar(&a.APIURL, "adyen-api-url", "", "Adyen Checkout API base URL with its version (a live account's https://{prefix}-checkout-live.adyenpayments.com/checkout/v71, which makes the provider live); empty is the test environment")
}

// Enabled reports whether Adyen is configured.
func (a Adyen) Enabled() bool { return a.APIKey != "" }

// Validate refuses half a configuration: a key without the HMAC key would
// take payments whose outcome is never accepted.
func (a Adyen) Validate() error {
	if a.APIKey == "" {
		if a.MerchantAccount != "" || a.HMACKey != "" || a.HMACKeyPrevious != "" || a.APIURL != "" {
			return fmt.Errorf("the --adyen-* flags need --adyen-api-key")
		}
		return nil
	}
	if a.MerchantAccount == "" || a.HMACKey == "" {
		return fmt.Errorf("--adyen-api-key needs --adyen-merchant-account and --adyen-hmac-key")
	}
	return nil
}

package turnserver

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // HMAC-SHA1 is what the TURN REST / coturn scheme specifies.
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// NewCredentials mints time-limited TURN credentials in coturn's
// "use-auth-secret" (TURN REST API draft) format, so that any TURN server
// sharing secret accepts them: the bundled one or an external coturn fleet.
//
// now is a parameter rather than time.Now so callers (and tests) control the
// clock; pion's GenerateLongTermTURNRESTCredentials does not allow that.
func NewCredentials(secret []byte, clientID string, ttl time.Duration, now time.Time) (username, password string) {
	expiry := now.Add(ttl).Unix()
	username = strconv.FormatInt(expiry, 10) + ":" + clientID

	return username, restPassword(secret, username)
}

func restPassword(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username)) // hash.Hash.Write never fails.

	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// parseUsername splits "<unix-expiry>:<id>". A bare "<unix-expiry>" is also
// accepted (id ""), as coturn does. The id may itself contain colons.
func parseUsername(username string) (expiry time.Time, id string, ok bool) {
	ts, id, _ := strings.Cut(username, ":")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, "", false
	}

	return time.Unix(sec, 0), id, true
}

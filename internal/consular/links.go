package consular

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// SignLink makes the token of a link that names a request until expires,
// e.g. the reschedule-or-cancel link of a booking confirmation. It is
// HMAC-signed with the links key; whoever follows it is still asked for the
// national ID, so a forwarded email opens nothing on its own.
func SignLink(key []byte, trackingCode string, expires time.Time) string {
	payload := trackingCode + "." + strconv.FormatInt(expires.Unix(), 10)
	return payload + "." + linkMAC(key, payload)
}

// VerifyLink returns the tracking code of a token that is genuine and not expired.
func VerifyLink(key []byte, token string, now time.Time) (string, bool) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", false
	}
	payload, mac := token[:i], token[i+1:]
	code, exp, ok := strings.Cut(payload, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(linkMAC(key, payload))) {
		return "", false
	}
	expires, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > expires {
		return "", false
	}
	return code, true
}

func linkMAC(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("link\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

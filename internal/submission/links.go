package submission

import (
	"crypto/subtle"
	"time"

	"github.com/openconsular/consular/internal/consular"
)

// ReceiptToken lets the submitter, and only them, download the receipt
// until expires (the request's deadline, after which a visit is no longer
// possible): the tracking code alone must not be enough. The portal's
// success page is opened the same way, with its own key.
func ReceiptToken(key []byte, code string, expires time.Time) string {
	return consular.SignLink(key, code, expires)
}

// TokenNames says whether token was signed with key for this tracking code
// and has not expired.
func TokenNames(key []byte, token, code string, now time.Time) bool {
	signed, ok := consular.VerifyLink(key, token, now)
	return ok && subtle.ConstantTimeCompare([]byte(signed), []byte(code)) == 1
}

// ReceiptURL is where the submitter downloads the receipt, until expires
// (the JSON API's GET /api/v1/requests/{code}/receipt).
func ReceiptURL(key []byte, code string, expires time.Time) string {
	return "/api/v1/requests/" + code + "/receipt?token=" + ReceiptToken(key, code, expires)
}

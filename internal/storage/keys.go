package storage

import "fmt"

// The object-key layout, in one place. A request's documents live under its
// tracking code in the documents bucket; an applicant's uploads, before they
// belong to a request, under uploads/; each request's receipt PDF in the
// receipts bucket under its tracking code.

// extensions name an accepted document's file by its format (as the
// document check decided it from the content: "jpeg" or "bmp").
var extensions = map[string]string{"jpeg": ".jpg", "bmp": ".bmp"}

// DocumentKey is where a request's document of kind is kept.
func DocumentKey(trackingCode, kind, format string) string {
	return RequestPrefix(trackingCode) + kind + extensions[format]
}

// RequestPrefix is the prefix of every document of a request.
func RequestPrefix(trackingCode string) string { return trackingCode + "/" }

// UploadKey is where an applicant's upload waits until it is submitted:
// owner is "profile" or a draft's ID.
func UploadKey(accountID int64, owner, kind, format string) string {
	return fmt.Sprintf("uploads/%d/%s/%s%s", accountID, owner, kind, extensions[format])
}

// ReceiptKey is the receipt's object key: one receipt per request.
func ReceiptKey(trackingCode string) string { return trackingCode + ".pdf" }

package receipt

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// A verification link is the verify page's URL with this query, keys in this
// order (short keys keep the QR code small enough to scan from paper):
//
//	t    tracking code
//	s    service code
//	m    mission code
//	at   submission time, Unix seconds
//	by   deadline, Unix seconds
//	k    ID of the signing key
//	sig  Ed25519 signature over canonical(fields), base64url without padding
//
// Unix seconds rather than RFC 3339: 10 characters instead of 24 once the
// colons are escaped, and no time zone to get wrong. Times are signed to the
// second; anything finer is dropped.
const (
	queryTracking  = "t"
	queryService   = "s"
	queryMission   = "m"
	querySubmitted = "at"
	queryDeadline  = "by"
	queryKeyID     = "k"
	querySignature = "sig"
)

// signedVersion starts every signed string, so a signature made for anything
// else (or a later layout of this one) can never pass as a receipt's.
const signedVersion = "consular-receipt-v1\n"

// sigEncoding is strict so that the unused low bits of the last character
// must be zero: otherwise two spellings of the last character would decode
// to the same signature, and a changed character would still verify.
var sigEncoding = base64.RawURLEncoding.Strict()

// Errors that Verify wraps; test them with errors.Is.
var (
	// ErrMalformed: the link is not a receipt link (a value is missing,
	// repeated or badly formed). A typing or scanning error, usually.
	ErrMalformed = errors.New("malformed receipt link")
	// ErrUnknownKey: the link names a key the key set does not hold, for
	// example one retired long ago, or a forger's own.
	ErrUnknownKey = errors.New("receipt signed with an unknown key")
	// ErrBadSignature: the key is known but the signature does not match the
	// values: the link was altered or forged.
	ErrBadSignature = errors.New("receipt signature does not match")
)

// Fields are the values a verification link carries, all of them signed.
type Fields struct {
	TrackingCode string
	ServiceCode  string
	MissionCode  string
	SubmittedAt  time.Time // UTC, to the second
	DeadlineAt   time.Time // UTC, to the second
	KeyID        string
}

// canonical is the exact byte string that is signed and verified: the
// version line, then one line per field. Verify refuses values holding a
// line break or other control character, so no two sets of fields can share
// a signed string.
func canonical(f Fields) []byte {
	return []byte(signedVersion +
		f.KeyID + "\n" +
		f.TrackingCode + "\n" +
		f.ServiceCode + "\n" +
		f.MissionCode + "\n" +
		strconv.FormatInt(f.SubmittedAt.Unix(), 10) + "\n" +
		strconv.FormatInt(f.DeadlineAt.Unix(), 10))
}

// Signer signs verification links with the active receipt key. KeyID names
// the key in the public key set, so keys can rotate while receipts signed
// under older keys still verify.
type Signer struct {
	KeyID string
	Key   ed25519.PrivateKey
}

// Link returns verifyURL with a signed query that proves the receipt's
// tracking code, service, mission and dates were issued by the system.
// The codes are expected to be the system's own (printable, no line breaks).
func (s Signer) Link(verifyURL string, r Receipt) string {
	f := r.fields(s.KeyID)
	sig := ed25519.Sign(s.Key, canonical(f))

	sep := "?"
	if strings.Contains(verifyURL, "?") {
		sep = "&"
	}
	var b strings.Builder
	b.WriteString(verifyURL)
	for _, kv := range [][2]string{
		{queryTracking, f.TrackingCode},
		{queryService, f.ServiceCode},
		{queryMission, f.MissionCode},
		{querySubmitted, strconv.FormatInt(f.SubmittedAt.Unix(), 10)},
		{queryDeadline, strconv.FormatInt(f.DeadlineAt.Unix(), 10)},
		{queryKeyID, f.KeyID},
		{querySignature, sigEncoding.EncodeToString(sig)},
	} {
		b.WriteString(sep)
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[1]))
		sep = "&"
	}
	return b.String()
}

// Verify checks a verification link (a full URL, or only its query) against
// the public keys and returns the signed values. Other query parameters are
// ignored. The error wraps ErrMalformed, ErrUnknownKey or ErrBadSignature.
func Verify(link string, keys KeySet) (Fields, error) {
	query := link
	if i := strings.IndexByte(query, '#'); i >= 0 {
		query = query[:i]
	}
	if i := strings.IndexByte(query, '?'); i >= 0 {
		query = query[i+1:]
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return Fields{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}

	q := linkQuery{values: values}
	f := Fields{
		TrackingCode: q.text(queryTracking),
		ServiceCode:  q.text(queryService),
		MissionCode:  q.text(queryMission),
		SubmittedAt:  q.unix(querySubmitted),
		DeadlineAt:   q.unix(queryDeadline),
		KeyID:        q.text(queryKeyID),
	}
	rawSig := q.text(querySignature)
	if q.err != nil {
		return Fields{}, q.err
	}
	sig, err := sigEncoding.DecodeString(rawSig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Fields{}, fmt.Errorf("%w: signature is not %d bytes of base64url", ErrMalformed, ed25519.SignatureSize)
	}

	key, ok := keys[f.KeyID]
	if !ok || len(key) != ed25519.PublicKeySize {
		return Fields{}, fmt.Errorf("%w: %q", ErrUnknownKey, f.KeyID)
	}
	if !ed25519.Verify(key, canonical(f), sig) {
		return Fields{}, fmt.Errorf("verify receipt %s: %w", f.TrackingCode, ErrBadSignature)
	}
	return f, nil
}

// linkQuery reads a link's values and keeps the first problem it meets, so
// Verify reads as a list of fields.
type linkQuery struct {
	values url.Values
	err    error
}

// text returns the single, non-empty, printable value of key.
func (q *linkQuery) text(key string) string {
	if q.err != nil {
		return ""
	}
	vs := q.values[key]
	switch {
	case len(vs) != 1:
		q.err = fmt.Errorf("%w: want one %q value, got %d", ErrMalformed, key, len(vs))
	case vs[0] == "":
		q.err = fmt.Errorf("%w: %q is empty", ErrMalformed, key)
	case strings.ContainsFunc(vs[0], func(r rune) bool { return r < 0x20 || r == 0x7f }):
		q.err = fmt.Errorf("%w: %q holds a control character", ErrMalformed, key)
	default:
		return vs[0]
	}
	return ""
}

// unix parses Unix seconds written exactly the way Link writes them (no sign,
// no leading zeros), so that each time has one spelling only.
func (q *linkQuery) unix(key string) time.Time {
	v := q.text(key)
	if q.err != nil {
		return time.Time{}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != v {
		q.err = fmt.Errorf("%w: %q is not Unix seconds", ErrMalformed, key)
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

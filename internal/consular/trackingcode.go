package consular

import (
	"crypto/rand"
	"errors"
	"math/big"
	"strings"
)

// A tracking code is 13 random decimal digits (43 bits, so codes cannot be
// guessed) and a Damm check digit, printed in groups: 4821-7730-9152-06.
// Digits, not letters: applicants read them aloud over the phone and type
// them on Persian keyboards, where Latin letters are a hurdle and ۰-۹ must
// work too. The Damm check digit catches every single mistyped digit and
// every swap of two neighbouring digits before any lookup is made.
type TrackingCode string

const trackingRandomDigits = 13

// ErrTrackingCode is returned for a code that is malformed or fails its check digit.
var ErrTrackingCode = errors.New("tracking code must be 14 digits with a valid check digit")

// NewTrackingCode draws a fresh code from the system's secure random source.
func NewTrackingCode() (TrackingCode, error) {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(trackingRandomDigits), nil)
	n, err := rand.Int(rand.Reader, max)
	if err != nil {
		return "", err
	}
	digits := n.Text(10)
	digits = strings.Repeat("0", trackingRandomDigits-len(digits)) + digits
	return formatTracking(digits + string(CheckDigit(digits))), nil
}

// ParseTrackingCode accepts what a person types: Persian or Arabic-Indic
// digits, spaces or hyphens anywhere; and returns the canonical form.
func ParseTrackingCode(s string) (TrackingCode, error) {
	var digits strings.Builder
	for _, r := range NormalizeDigits(s) {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '-' || r == ' ' || r == '\u00a0':
		default:
			return "", ErrTrackingCode
		}
	}
	d := digits.String()
	if len(d) != trackingRandomDigits+1 || CheckDigit(d) != '0' {
		return "", ErrTrackingCode
	}
	return formatTracking(d), nil
}

func (c TrackingCode) String() string { return string(c) }

func formatTracking(d string) TrackingCode {
	return TrackingCode(d[0:4] + "-" + d[4:8] + "-" + d[8:12] + "-" + d[12:])
}

// damm is the Damm algorithm's quasigroup of order 10 (weakly totally anti-symmetric).
var damm = [10][10]byte{
	{0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
	{7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
	{4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
	{1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
	{6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
	{3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
	{5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
	{8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
	{9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
	{2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
}

// CheckDigit returns the Damm check digit of digits; for digits that end in
// their own check digit it returns '0'.
func CheckDigit(digits string) byte {
	var interim byte
	for i := 0; i < len(digits); i++ {
		interim = damm[interim][digits[i]-'0']
	}
	return '0' + interim
}

// NormalizeDigits turns Persian (۰-۹) and Arabic-Indic (٠-٩) digits into
// ASCII ones; strconv and regular expressions know only the latter.
func NormalizeDigits(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '۰' && r <= '۹':
			return '0' + (r - '۰')
		case r >= '٠' && r <= '٩':
			return '0' + (r - '٠')
		}
		return r
	}, s)
}

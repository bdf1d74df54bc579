package consular

import "errors"

// ErrNationalID is returned for a national ID code (کد ملی) that is not ten
// digits with a valid check digit.
var ErrNationalID = errors.New("national ID must be 10 digits with a valid check digit")

// ParseNationalID normalises Persian and Arabic-Indic digits and checks the
// code's check digit: with s = d0*10 + d1*9 + ... + d8*2 and r = s mod 11,
// the last digit is r when r < 2, else 11 - r. Ten identical digits pass
// that check but are never issued.
func ParseNationalID(s string) (string, error) {
	id := NormalizeDigits(s)
	if len(id) != 10 {
		return "", ErrNationalID
	}
	sum, same := 0, true
	for i := 0; i < 10; i++ {
		if id[i] < '0' || id[i] > '9' {
			return "", ErrNationalID
		}
		if id[i] != id[0] {
			same = false
		}
		if i < 9 {
			sum += int(id[i]-'0') * (10 - i)
		}
	}
	r := sum % 11
	check := int(id[9] - '0')
	if same || (r < 2 && check != r) || (r >= 2 && check != 11-r) {
		return "", ErrNationalID
	}
	return id, nil
}

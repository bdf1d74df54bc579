package consular

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzParseNationalID: whatever is typed, an accepted national ID is ten
// ASCII digits that pass the check digit, are not all the same, parse to
// themselves, and are the digits that were typed (Persian or Arabic-Indic
// digits included), nothing added or dropped.
func FuzzParseNationalID(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseNationalID(s)
		if err != nil {
			if id != "" {
				t.Errorf("refused %q but returned %q", s, id)
			}
			return
		}
		if len(id) != 10 || strings.IndexFunc(id, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			t.Fatalf("accepted %q as %q, not ten ASCII digits", s, id)
		}
		if id == strings.Repeat(id[:1], 10) {
			t.Errorf("accepted ten identical digits %q", id)
		}
		sum := 0
		for i := 0; i < 9; i++ {
			sum += int(id[i]-'0') * (10 - i)
		}
		want := sum % 11
		if want >= 2 {
			want = 11 - want
		}
		if int(id[9]-'0') != want {
			t.Errorf("accepted %q, whose check digit should be %d", id, want)
		}
		if again, err := ParseNationalID(id); err != nil || again != id {
			t.Errorf("%q parses to %q, %v; want itself", id, again, err)
		}
		if NormalizeDigits(s) != id {
			t.Errorf("accepted %q as %q: not the digits typed", s, id)
		}
	})
}

var canonicalTrackingCode = regexp.MustCompile(`^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{2}$`)

// FuzzParseTrackingCode: an accepted tracking code is in the printed form,
// parses to itself, keeps exactly the digits typed, and passes its Damm
// check digit; changing any one of its digits makes it refused.
func FuzzParseTrackingCode(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		code, err := ParseTrackingCode(s)
		if err != nil {
			if code != "" {
				t.Errorf("refused %q but returned %q", s, code)
			}
			return
		}
		if !canonicalTrackingCode.MatchString(string(code)) {
			t.Fatalf("accepted %q as %q, not in the printed form", s, code)
		}
		if again, err := ParseTrackingCode(string(code)); err != nil || again != code {
			t.Errorf("%q parses to %q, %v; want itself", code, again, err)
		}
		digits := strings.ReplaceAll(string(code), "-", "")
		typed := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, NormalizeDigits(s))
		if typed != digits {
			t.Errorf("accepted %q as %q: not the digits typed", s, code)
		}
		if CheckDigit(digits) != '0' {
			t.Errorf("accepted %q, whose check digit is wrong", code)
		}
		for i := range digits {
			b := []byte(digits)
			b[i] = '0' + (b[i]-'0'+1)%10
			if _, err := ParseTrackingCode(string(b)); err == nil {
				t.Errorf("%q with digit %d changed (%s) is accepted", code, i, b)
			}
		}
	})
}

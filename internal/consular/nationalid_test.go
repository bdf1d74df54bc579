package consular

import "testing"

func TestNationalIDChecksum(t *testing.T) {
	for _, ok := range []string{"0013542419", "7730942860", "4922652949", "۰۰۱۳۵۴۲۴۱۹", "٧٧٣٠٩٤٢٨٦٠"} {
		if _, err := ParseNationalID(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"0013542418", "1234567890", "1111111111", "0000000000", "001354241", "00135424190", "001354241x", ""} {
		if _, err := ParseNationalID(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

package i18n

import (
	"testing"
	"time"
)

func TestDatesInBothCalendars(t *testing.T) {
	nowruz := time.Date(2025, 3, 21, 10, 30, 0, 0, time.UTC)
	if got := Date(nowruz, Persian); got != "۱۴۰۴/۰۱/۰۱" {
		t.Errorf("Persian date = %q, want ۱۴۰۴/۰۱/۰۱", got)
	}
	if got := Date(nowruz, English); got != "21 March 2025" {
		t.Errorf("English date = %q", got)
	}
	tehran := time.FixedZone("+0330", 3*3600+1800)
	if got := DateTime(nowruz.In(tehran), English); got != "21 March 2025, 14:00 +0330" {
		t.Errorf("English date and time = %q", got)
	}
}

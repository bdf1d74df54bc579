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

func TestParseDateAsTyped(t *testing.T) {
	for _, c := range []struct{ in, lang, want string }{
		{"۱۳۷۰/۰۵/۱۲", Persian, "1991-08-03"},
		{"1404/1/1", Persian, "2025-03-21"},
		{"1991-08-03", English, "1991-08-03"},
		{"1991-08-03", Persian, "1991-08-03"}, // a Gregorian year typed on a Persian page
	} {
		got, err := ParseDate(c.in, c.lang)
		if err != nil || got.Format("2006-01-02") != c.want {
			t.Errorf("ParseDate(%q, %s) = %s, %v; want %s", c.in, c.lang, got.Format("2006-01-02"), err, c.want)
		}
	}
	for _, bad := range []string{"", "1991-02-30", "13/13/13", "yesterday"} {
		if _, err := ParseDate(bad, English); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
	if got := InputDate(time.Date(1991, 8, 3, 12, 0, 0, 0, time.UTC), Persian); got != "۱۳۷۰/۰۵/۱۲" {
		t.Errorf("InputDate = %q", got)
	}
}

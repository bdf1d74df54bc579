package receipt

import (
	"testing"
	"time"
)

func TestDatesArePrintedOnTheMissionsCalendarDay(t *testing.T) {
	tehran, err := time.LoadLocation("Asia/Tehran")
	if err != nil {
		t.Fatal(err)
	}
	// 23:00 UTC on 20 March 2025 is already Nowruz (1 Farvardin 1404) in Tehran.
	at := time.Date(2025, 3, 20, 23, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		zone                  *time.Location
		gregorian, solarHijri string
	}{
		{tehran, "21 March 2025", "۱۴۰۴/۰۱/۰۱"},
		{nil, "20 March 2025", "۱۴۰۳/۱۲/۳۰"}, // no zone: UTC
	} {
		if got := gregorian(at, tc.zone); got != tc.gregorian {
			t.Errorf("gregorian in %v = %q, want %q", tc.zone, got, tc.gregorian)
		}
		if got := solarHijri(at, tc.zone); got != tc.solarHijri {
			t.Errorf("solarHijri in %v = %q, want %q", tc.zone, got, tc.solarHijri)
		}
	}
}

func TestDeadlineNinetyDaysAfterNowruzIsTwentyNinthKhordad(t *testing.T) {
	r := sampleReceipt(t)
	if got := solarHijri(r.DeadlineAt, r.Location); got != "۱۴۰۴/۰۳/۲۹" {
		t.Errorf("deadline = %q, want ۱۴۰۴/۰۳/۲۹", got)
	}
	if got := gregorian(r.DeadlineAt, r.Location); got != "19 June 2025" {
		t.Errorf("deadline = %q, want 19 June 2025", got)
	}
}

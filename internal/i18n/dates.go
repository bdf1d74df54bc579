// Package i18n formats what applicants read in their language: dates in the
// Solar Hijri calendar with Persian digits for Persian, Gregorian for English.
package i18n

import (
	"fmt"
	"strings"
	"time"

	ptime "github.com/yaa110/go-persian-calendar"
)

// Languages the system speaks; Persian is the default.
const (
	Persian = "fa"
	English = "en"
)

// Date formats a day as the applicant reads it: ۱۴۰۴/۰۱/۰۱ in Persian,
// 21 March 2025 in English.
func Date(t time.Time, lang string) string {
	if lang == English {
		return t.Format("2 January 2006")
	}
	p := ptime.New(t)
	return PersianDigits(fmt.Sprintf("%04d/%02d/%02d", p.Year(), int(p.Month()), p.Day()))
}

// DateTime is Date with the time of day (24-hour clock) and the zone's abbreviation.
func DateTime(t time.Time, lang string) string {
	clock := t.Format("15:04")
	if lang == English {
		return Date(t, lang) + ", " + clock + " " + t.Format("MST")
	}
	return Date(t, lang) + "، ساعت " + PersianDigits(clock) + " " + t.Format("MST")
}

// PersianDigits writes ASCII digits as Persian ones (۰-۹).
func PersianDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '۰' + (r - '0')
		}
		return r
	}, s)
}

// ParseDate reads a date as typed in a form: year/month/day in the Solar
// Hijri calendar on Persian pages (Persian digits welcome, e.g. ۱۳۷۰/۰۵/۱۲),
// the browser's YYYY-MM-DD on English ones. The day is returned at noon UTC.
func ParseDate(s, lang string) (time.Time, error) {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		switch {
		case r >= '۰' && r <= '۹':
			return '0' + (r - '۰')
		case r >= '٠' && r <= '٩':
			return '0' + (r - '٠')
		case r == '-' || r == '.':
			return '/'
		}
		return r
	}, s))
	var y, m, d int
	if _, err := fmt.Sscanf(s, "%d/%d/%d", &y, &m, &d); err != nil || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, fmt.Errorf("not a date: %q", s)
	}
	if lang == Persian && y < 1700 {
		t := ptime.Date(y, ptime.Month(m), d, 12, 0, 0, 0, time.UTC).Time()
		if p := ptime.New(t); p.Day() != d || int(p.Month()) != m {
			return time.Time{}, fmt.Errorf("no such day: %q", s)
		}
		return t, nil
	}
	t := time.Date(y, time.Month(m), d, 12, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return time.Time{}, fmt.Errorf("no such day: %q", s)
	}
	return t, nil
}

// InputDate writes a stored day back into a form field of the page's language.
func InputDate(t time.Time, lang string) string {
	if lang == English {
		return t.Format("2006-01-02")
	}
	return Date(t, Persian)
}

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

package receipt

import (
	"fmt"
	"strings"
	"time"

	ptime "github.com/yaa110/go-persian-calendar"
)

// A receipt prints each date twice: on the Gregorian calendar for the
// English text (and the mission's country), on the Solar Hijri calendar in
// Persian digits for the Persian text. Both are the date in the mission's
// time zone, so "the deadline" is the same day for the applicant and staff.

// gregorian formats t as "21 March 2025".
func gregorian(t time.Time, loc *time.Location) string {
	return t.In(zone(loc)).Format("2 January 2006")
}

// solarHijri formats t as "۱۴۰۴/۰۱/۰۱".
func solarHijri(t time.Time, loc *time.Location) string {
	y, m, d := ptime.New(t.In(zone(loc))).Date()
	return persianDigits.Replace(fmt.Sprintf("%04d/%02d/%02d", y, int(m), d))
}

func zone(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

var persianDigits = strings.NewReplacer(
	"0", "۰", "1", "۱", "2", "۲", "3", "۳", "4", "۴",
	"5", "۵", "6", "۶", "7", "۷", "8", "۸", "9", "۹",
)

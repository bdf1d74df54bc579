package schedule

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Clock is a local wall-clock time of day, in minutes after midnight, from
// 00:00 to 24:00 (which ends a period that runs to midnight). It names no
// instant: 09:30 becomes one only on a given Date in a given Location.
type Clock int

// EndOfDay is 24:00, the end of a period or closure that runs to midnight.
const EndOfDay Clock = 24 * 60

// ErrClock is returned for a time of day that is not HH:MM within 00:00-24:00.
var ErrClock = errors.New("time of day must be HH:MM between 00:00 and 24:00")

// ParseClock reads "09:30" or "9:30". Digits must be ASCII: callers holding
// Persian or Arabic-Indic digits normalise them first (consular.NormalizeDigits).
func ParseClock(s string) (Clock, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q: %w", s, ErrClock)
	}
	hh, err1 := digits(h)
	mm, err2 := digits(m)
	if err1 != nil || err2 != nil || hh > 24 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q: %w", s, ErrClock)
	}
	return Clock(hh*60 + mm), nil
}

// String writes the clock as HH:MM.
func (c Clock) String() string {
	if c < 0 || c > EndOfDay {
		return fmt.Sprintf("Clock(%d)", int(c))
	}
	return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60)
}

// MarshalText writes HH:MM, so templates stored as JSON stay readable.
func (c Clock) MarshalText() ([]byte, error) {
	if c < 0 || c > EndOfDay {
		return nil, fmt.Errorf("%d minutes: %w", int(c), ErrClock)
	}
	return []byte(c.String()), nil
}

// UnmarshalText reads HH:MM.
func (c *Clock) UnmarshalText(b []byte) error {
	v, err := ParseClock(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Date is a day of the civil calendar (Gregorian), with no zone: closures and
// template validity are days at the mission, not instants, so they must not
// shift when read by a server in another zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ErrDate is returned for a date that is not YYYY-MM-DD or does not exist.
var ErrDate = errors.New("date must be an existing day written YYYY-MM-DD")

// DateOf is the calendar day of t in t's own location; pass t.In(loc) to read
// it at a mission.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate reads "2026-03-21".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q: %w", s, ErrDate)
	}
	return DateOf(t), nil
}

// IsZero reports whether d is the zero Date, which templates read as "no bound".
func (d Date) IsZero() bool { return d == Date{} }

// Valid reports whether d is a day that exists (no 30 February).
func (d Date) Valid() bool { return d.AddDays(0) == d && d.Year > 0 }

// AddDays is the date n days later (earlier when n < 0).
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 0, 0, 0, 0, time.UTC))
}

// Weekday is the day of the week of d.
func (d Date) Weekday() time.Weekday { return d.utc().Weekday() }

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int { return d.utc().Compare(e.utc()) }

// String writes YYYY-MM-DD.
func (d Date) String() string { return d.utc().Format(time.DateOnly) }

// MarshalText writes YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads YYYY-MM-DD.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// In is the first instant of d in loc: local midnight, or the end of the gap
// where a zone skips midnight (Iran's DST began at 00:00 until 2022, so
// 2021-03-22 began at 01:00). time.Date would guess instead.
func (d Date) In(loc *time.Location) time.Time {
	day := newDay(loc, d)
	if u, ok := day.first(); ok {
		return time.Unix(u, 0).In(loc)
	}
	// The whole day was skipped (Samoa, 2011-12-30): time.Date's reading is
	// as good as any.
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

func (d Date) utc() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// span is one stretch of constant UTC offset in a location, in Unix seconds,
// end exclusive.
type span struct{ start, end, offset int64 }

// day turns wall-clock times on one date into instants. It collects the zone
// spans that can hold that date once, so each slot costs a few comparisons,
// and it picks the first of two instants where a wall-clock time repeats,
// where time.Date would pick the second.
type day struct {
	loc      *time.Location
	midnight int64 // the date's 00:00 read as if it were UTC, in Unix seconds
	spans    []span
}

// margin exceeds any UTC offset a zone has ever had (LMTs reach ±15:57), so
// every span that can hold a wall-clock time of the day is collected.
const margin = 26 * 3600

func newDay(loc *time.Location, d Date) day {
	midnight := d.utc().Unix()
	lo, hi := midnight-margin, midnight+24*3600+margin
	var spans []span
	t := time.Unix(lo, 0).In(loc)
	for {
		_, off := t.Zone()
		start, end := t.ZoneBounds()
		s := span{math.MinInt64, math.MaxInt64, int64(off)}
		if !start.IsZero() {
			s.start = start.Unix()
		}
		if !end.IsZero() {
			s.end = end.Unix()
		}
		spans = append(spans, s)
		if end.IsZero() || s.end > hi {
			break
		}
		t = end.In(loc)
	}
	return day{loc, midnight, spans}
}

// at is the first instant at which loc's clocks read c on the day, false when
// they never do (skipped by a spring-forward gap).
func (d day) at(c Clock) (time.Time, bool) {
	wall := d.midnight + int64(c)*60
	for _, s := range d.spans { // in time order, so the first match is the earliest
		if u := wall - s.offset; s.start <= u && u < s.end {
			return time.Unix(u, 0).In(d.loc), true
		}
	}
	return time.Time{}, false
}

// first is the earliest instant whose local date is the day.
func (d day) first() (int64, bool) {
	for _, s := range d.spans {
		if u := d.midnight - s.offset; s.start <= u && u < s.end {
			return u, true
		}
		// Midnight was skipped: the day begins where a span begins on it.
		if s.start != math.MinInt64 {
			if wall := s.start + s.offset; d.midnight <= wall && wall < d.midnight+24*3600 {
				return s.start, true
			}
		}
	}
	return 0, false
}

func digits(s string) (int, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, ErrClock
		}
	}
	return strconv.Atoi(s)
}

package calendar

import (
	"fmt"
	"slices"
	"time"
)

// The VTIMEZONE is built from Go's own zone data rather than a table kept
// here, so it follows the tzdata the server runs with. It covers the year
// before the event to the year after it: calendar apps only need the
// observances in effect around the event, and a short window stays right
// when a country changes its rules later.

// transition is a change of a zone's offset, abbreviation or DST flag.
type transition struct {
	at       time.Time // the instant of the change
	from, to int       // UTC offsets, in seconds, before and after
	name     string    // abbreviation after the change
	dst      bool      // daylight saving time after the change
}

// wall is the time of the change on the clock before it, which is how an
// observance's DTSTART is written (RFC 5545 3.6.5). It is returned in UTC as
// a plain date and clock reading.
func (t transition) wall() time.Time {
	return t.at.UTC().Add(time.Duration(t.from) * time.Second)
}

// transitions lists loc's changes in [from, to), stepping from one zone
// period to the next with ZoneBounds: exact to the second, no searching.
func transitions(loc *time.Location, from, to time.Time) []transition {
	var ts []transition
	for t := from.In(loc); ; {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			return ts
		}
		before, after := end.Add(-time.Nanosecond), end
		beforeName, beforeOffset := before.Zone()
		name, offset := after.Zone()
		// tzdata sometimes starts a new period that changes nothing a
		// calendar can see (e.g. where its table hands over to its rule).
		if offset != beforeOffset || name != beforeName || after.IsDST() != before.IsDST() {
			ts = append(ts, transition{at: end, from: beforeOffset, to: offset, name: name, dst: after.IsDST()})
		}
		t = end
	}
}

// observance is one STANDARD or DAYLIGHT sub-component.
type observance struct {
	daylight bool
	name     string
	start    time.Time // wall clock, as transition.wall
	from, to int
	rrule    string // empty for a single change
}

// observances describes loc around [start, end]: one observance for a zone
// without changes, a yearly rule per change when the same rules hold every
// year of the window (most zones with DST, e.g. Europe/Vienna), and the
// changes one by one otherwise (e.g. Africa/Casablanca around Ramadan, or a
// country dropping DST in the window).
func observances(loc *time.Location, start, end time.Time) []observance {
	firstYear, lastYear := start.In(loc).Year()-1, end.In(loc).Year()+1
	from := time.Date(firstYear, time.January, 1, 0, 0, 0, 0, loc)
	to := time.Date(lastYear+1, time.January, 1, 0, 0, 0, 0, loc)

	ts := transitions(loc, from, to)
	if len(ts) == 0 {
		name, offset := from.Zone()
		// 1970 is what most generators write for a fixed offset; the offset
		// only has to be right for the window, which it is.
		return []observance{{
			daylight: from.IsDST(), name: name, from: offset, to: offset,
			start: time.Date(1970, time.January, 1, 0, 0, 0, 0, time.UTC),
		}}
	}
	if obs, ok := yearlyRules(ts, firstYear, lastYear); ok {
		return obs
	}

	// The observance in effect when the window opens, then every change.
	name, offset := from.Zone()
	_, offsetBefore := from.Add(-time.Nanosecond).Zone()
	obs := []observance{{
		daylight: from.IsDST(), name: name, from: offsetBefore, to: offset,
		start: transition{at: from, from: offsetBefore}.wall(),
	}}
	for _, t := range ts {
		obs = append(obs, observance{daylight: t.dst, name: t.name, start: t.wall(), from: t.from, to: t.to})
	}
	return obs
}

// yearlyRules turns ts into one RRULE observance per change of the year, if
// every year from firstYear to lastYear has the same changes on days one rule
// names ("last Sunday of March at 02:00"). Yearly rules are what Outlook
// understands best.
func yearlyRules(ts []transition, firstYear, lastYear int) ([]observance, bool) {
	byYear := make(map[int][]transition)
	for _, t := range ts {
		y := t.wall().Year()
		byYear[y] = append(byYear[y], t)
	}
	first := byYear[firstYear]
	if len(first) == 0 || len(byYear) != lastYear-firstYear+1 {
		return nil, false
	}
	obs := make([]observance, len(first))
	for i, t0 := range first {
		rules := ruleCandidates(t0.wall())
		for y := firstYear + 1; y <= lastYear; y++ {
			if len(byYear[y]) != len(first) {
				return nil, false
			}
			t := byYear[y][i]
			if t.from != t0.from || t.to != t0.to || t.name != t0.name || t.dst != t0.dst || !sameClock(t.wall(), t0.wall()) {
				return nil, false
			}
			other := ruleCandidates(t.wall())
			rules = slices.DeleteFunc(rules, func(r string) bool { return !slices.Contains(other, r) })
		}
		if len(rules) == 0 {
			return nil, false
		}
		obs[i] = observance{daylight: t0.dst, name: t0.name, start: t0.wall(), from: t0.from, to: t0.to, rrule: rules[0]}
	}
	return obs, true
}

// ruleCandidates lists the yearly rules that put a change on w's day, the
// usual forms first: the last or n-th weekday of the month, then a fixed date.
func ruleCandidates(w time.Time) []string {
	month := fmt.Sprintf("FREQ=YEARLY;BYMONTH=%d;", int(w.Month()))
	day := weekdays[w.Weekday()]
	var rules []string
	if w.AddDate(0, 0, 7).Month() != w.Month() {
		rules = append(rules, month+"BYDAY=-1"+day)
	}
	if n := (w.Day()-1)/7 + 1; n <= 4 {
		rules = append(rules, month+fmt.Sprintf("BYDAY=%d%s", n, day))
	}
	return append(rules, month+fmt.Sprintf("BYMONTHDAY=%d", w.Day()))
}

var weekdays = [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

func sameClock(a, b time.Time) bool {
	ah, am, as := a.Clock()
	bh, bm, bs := b.Clock()
	return ah == bh && am == bm && as == bs
}

func writeTimezone(b *contentWriter, loc *time.Location, start, end time.Time) {
	tzid := loc.String()
	b.line("BEGIN:VTIMEZONE")
	b.line("TZID:" + escapeText(tzid))
	// libical-based clients (Thunderbird, Evolution) map this to their own
	// copy of the zone.
	b.line("X-LIC-LOCATION:" + escapeText(tzid))
	for _, o := range observances(loc, start, end) {
		kind := "STANDARD"
		if o.daylight {
			kind = "DAYLIGHT"
		}
		b.line("BEGIN:" + kind)
		b.line("DTSTART:" + o.start.Format(localFormat))
		b.line("TZOFFSETFROM:" + utcOffset(o.from))
		b.line("TZOFFSETTO:" + utcOffset(o.to))
		if o.rrule != "" {
			b.line("RRULE:" + o.rrule)
		}
		if o.name != "" {
			b.line("TZNAME:" + escapeText(o.name))
		}
		b.line("END:" + kind)
	}
	b.line("END:VTIMEZONE")
}

// utcOffset formats seconds east of UTC as a UTC-OFFSET value (+0330).
func utcOffset(seconds int) string {
	sign := '+'
	if seconds < 0 {
		sign, seconds = '-', -seconds
	}
	h, m, s := seconds/3600, seconds/60%60, seconds%60
	if s != 0 {
		return fmt.Sprintf("%c%02d%02d%02d", sign, h, m, s)
	}
	return fmt.Sprintf("%c%02d%02d", sign, h, m)
}

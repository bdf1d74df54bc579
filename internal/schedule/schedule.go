// Package schedule owns a mission's appointment slots: it derives them from
// weekly templates and closures, in the mission's own IANA time zone, and
// tells which slots a template change would remove. It is pure: no I/O, no
// clock, no time.Local; the caller passes the zone and the window.
//
// Templates and closures speak in local wall-clock times (09:30 in Tokyo is
// 09:30 Tokyo time wherever the server runs); slots are instants. The
// translation happens per local calendar day, and daylight-saving changes
// are settled one way everywhere: a wall-clock start that does not exist
// (spring forward) has no slot, one that occurs twice (fall back) has one
// slot, at its first occurrence.
package schedule

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Period is an opening period on a weekday, from Start up to End, in local
// wall-clock time.
type Period struct {
	Start, End Clock
}

func (p Period) String() string { return p.Start.String() + "-" + p.End.String() }

// Template is a mission's weekly pattern of slots, optionally for a group of
// services and a range of days. A mission may have several, e.g. one for
// passports and one for everything else; each slot belongs to one template.
type Template struct {
	ID       int64
	Weekdays map[time.Weekday][]Period
	// SlotMinutes must divide every period, so no minutes are silently left
	// unbookable at a period's end.
	SlotMinutes int
	// Capacity is how many applicants one slot receives.
	Capacity int
	// Services are the service codes the template's slots take; empty means all.
	Services []string
	// ValidFrom and ValidUntil are the first and the last day (both
	// included) the template applies; a zero Date leaves that side open.
	ValidFrom, ValidUntil Date
}

// ErrTemplate is wrapped by every error Template.Validate returns.
var ErrTemplate = errors.New("invalid template")

// Validate refuses a template that would yield odd slots: periods outside
// 00:00-24:00, empty or overlapping, a slot length that does not divide a
// period, capacity below 1, an unknown weekday, no period at all, a blank
// service code, or a validity range that ends before it starts.
func (t Template) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %d: %s", ErrTemplate, t.ID, fmt.Sprintf(format, a...))
	}
	if t.SlotMinutes < 1 || t.SlotMinutes > int(EndOfDay) {
		return bad("slot length %d minutes is not between 1 and %d", t.SlotMinutes, int(EndOfDay))
	}
	if t.Capacity < 1 {
		return bad("capacity %d is below 1", t.Capacity)
	}
	periods := 0
	for wd, ps := range t.Weekdays {
		if wd < time.Sunday || wd > time.Saturday {
			return bad("weekday %d does not exist", int(wd))
		}
		sorted := slices.Clone(ps)
		slices.SortFunc(sorted, func(a, b Period) int { return cmp.Compare(a.Start, b.Start) })
		for i, p := range sorted {
			if p.Start < 0 || p.End > EndOfDay || p.Start >= p.End {
				return bad("%s %s is not a period within 00:00-24:00", wd, p)
			}
			if int(p.End-p.Start)%t.SlotMinutes != 0 {
				return bad("%s %s is not a whole number of %d-minute slots", wd, p, t.SlotMinutes)
			}
			if i > 0 && sorted[i-1].End > p.Start {
				return bad("%s %s overlaps %s", wd, p, sorted[i-1])
			}
		}
		periods += len(ps)
	}
	if periods == 0 {
		return bad("no opening period")
	}
	for _, s := range t.Services {
		if s == "" {
			return bad("blank service code")
		}
	}
	for _, d := range []Date{t.ValidFrom, t.ValidUntil} {
		if !d.IsZero() && !d.Valid() {
			return bad("validity date %d-%d-%d does not exist", d.Year, int(d.Month), d.Day)
		}
	}
	if !t.ValidFrom.IsZero() && !t.ValidUntil.IsZero() && t.ValidUntil.Compare(t.ValidFrom) < 0 {
		return bad("valid until %s is before valid from %s", t.ValidUntil, t.ValidFrom)
	}
	return nil
}

// Offers reports whether the template's slots take the service.
func (t Template) Offers(service string) bool {
	return len(t.Services) == 0 || slices.Contains(t.Services, service)
}

// appliesOn reports whether the template is in force on d.
func (t Template) appliesOn(d Date) bool {
	return (t.ValidFrom.IsZero() || d.Compare(t.ValidFrom) >= 0) &&
		(t.ValidUntil.IsZero() || d.Compare(t.ValidUntil) <= 0)
}

// Offering is the templates whose slots take the service. Slots over
// Offering(templates, code) are the slots an applicant for that service may
// book; filtering templates rather than slots keeps Slot free of service lists.
func Offering(templates []Template, service string) []Template {
	var out []Template
	for _, t := range templates {
		if t.Offers(service) {
			out = append(out, t)
		}
	}
	return out
}

// Closure closes a mission on a day (a holiday such as Nowruz) or for part
// of it, in local wall-clock time. Closures apply to every template.
type Closure struct {
	Date Date
	// Start and End bound a partial closure; End == 0 (the zero Closure
	// times) closes the whole day.
	Start, End Clock
	Reason     string
}

// ErrClosure is wrapped by every error Closure.Validate returns.
var ErrClosure = errors.New("invalid closure")

// WholeDay reports whether c closes the whole day.
func (c Closure) WholeDay() bool { return c.End == 0 }

// Validate refuses a closure on a day that does not exist or with times that
// are not a period within 00:00-24:00.
func (c Closure) Validate() error {
	if !c.Date.Valid() {
		return fmt.Errorf("%w: date %d-%d-%d does not exist", ErrClosure, c.Date.Year, int(c.Date.Month), c.Date.Day)
	}
	if c.WholeDay() {
		if c.Start != 0 {
			return fmt.Errorf("%w: %s has a start but no end", ErrClosure, c.Date)
		}
		return nil
	}
	if c.Start < 0 || c.End > EndOfDay || c.Start >= c.End {
		return fmt.Errorf("%w: %s %s-%s is not a period within 00:00-24:00", ErrClosure, c.Date, c.Start, c.End)
	}
	return nil
}

// closes reports whether c removes the slot of wall-clock times [start, end)
// on c's day. Both sides are wall-clock times, as staff wrote them, so a
// closure 10:00-11:00 removes the 10:00 slot even on a day whose clocks
// jump.
func (c Closure) closes(start, end Clock) bool {
	return c.WholeDay() || (start < c.End && c.Start < end)
}

// Slot is a bookable appointment time: Start and End are instants carrying
// the mission's Location, End is Start plus the template's slot length in
// elapsed time.
type Slot struct {
	Start, End time.Time
	Capacity   int
	TemplateID int64
}

// Slots derives every slot whose Start lies in [from, until), ordered by
// Start then TemplateID, from the templates and closures of a mission in
// loc. from and until may be in any location. Templates that fail Validate
// and closures that fail their own Validate are ignored rather than guessed
// at: validate them when they are saved.
func Slots(loc *time.Location, templates []Template, closures []Closure, from, until time.Time) []Slot {
	if !from.Before(until) {
		return nil
	}
	var valid []Template
	for _, t := range templates {
		if t.Validate() == nil {
			valid = append(valid, t)
		}
	}
	closed := map[Date][]Closure{}
	for _, c := range closures {
		if c.Validate() == nil {
			closed[c.Date] = append(closed[c.Date], c)
		}
	}

	var slots []Slot
	last := DateOf(until.In(loc))
	for d := DateOf(from.In(loc)); d.Compare(last) <= 0; d = d.AddDays(1) {
		var wall day // built only on days with a period, from the first slot
		for _, t := range valid {
			if !t.appliesOn(d) {
				continue
			}
			length := Clock(t.SlotMinutes)
			for _, p := range t.Weekdays[d.Weekday()] {
				for s := p.Start; s+length <= p.End; s += length {
					if slices.ContainsFunc(closed[d], func(c Closure) bool { return c.closes(s, s+length) }) {
						continue
					}
					if wall.loc == nil {
						wall = newDay(loc, d)
					}
					start, ok := wall.at(s)
					if !ok || start.Before(from) || !start.Before(until) {
						continue
					}
					slots = append(slots, Slot{
						Start:      start,
						End:        start.Add(time.Duration(t.SlotMinutes) * time.Minute),
						Capacity:   t.Capacity,
						TemplateID: t.ID,
					})
				}
			}
		}
	}
	slices.SortFunc(slots, func(a, b Slot) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.TemplateID, b.TemplateID))
	})
	return slots
}

// Dropped is the slots of before that after no longer has, a slot being
// known by its template and its start, as a booking is: an applicant booked
// for 09:00 still comes at 09:00 if the slot now lasts longer or shorter.
// Bookings in dropped slots need the mission's attention before the change
// is saved, because changing a template never silently drops a booking.
// Derive both over the same window (from now to the last booking). A slot
// kept with a smaller capacity is not dropped: compare its booking count
// with the new Capacity.
func Dropped(before, after []Slot) []Slot {
	type key struct {
		template int64
		start    int64
	}
	kept := make(map[key]bool, len(after))
	for _, s := range after {
		kept[key{s.TemplateID, s.Start.UnixNano()}] = true
	}
	var gone []Slot
	for _, s := range before {
		if !kept[key{s.TemplateID, s.Start.UnixNano()}] {
			gone = append(gone, s)
		}
	}
	return gone
}

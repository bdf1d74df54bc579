package schedule

import (
	"testing"
	"time"
)

// BenchmarkSlots derives the slots a booking lookup offers: a mission's
// 90-day window from two templates (weekday mornings and afternoons, 30
// minutes) with a few closures, as the appointment pages compute it per
// lookup.
func BenchmarkSlots(b *testing.B) {
	vienna, err := time.LoadLocation("Europe/Vienna")
	if err != nil {
		b.Fatal(err)
	}
	clock := func(s string) Clock {
		c, err := ParseClock(s)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	week := func(from, to string) map[time.Weekday][]Period {
		m := map[time.Weekday][]Period{}
		for d := time.Monday; d <= time.Friday; d++ {
			m[d] = []Period{{clock(from), clock(to)}}
		}
		return m
	}
	templates := []Template{
		{ID: 1, Weekdays: week("08:30", "12:30"), SlotMinutes: 30, Capacity: 3},
		{ID: 2, Weekdays: week("14:00", "16:00"), SlotMinutes: 30, Capacity: 2, Services: []string{"apostille"}},
	}
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, vienna)
	closures := []Closure{{Date: DateOf(from.AddDate(0, 0, 17))}, {Date: DateOf(from.AddDate(0, 0, 40)), Start: clock("08:30"), End: clock("10:00")}}
	var n int
	for b.Loop() {
		n = len(Slots(vienna, Offering(templates, "apostille"), closures, from, from.AddDate(0, 0, 90)))
	}
	if n < 500 {
		b.Fatalf("%d slots in 90 days, want over 500", n)
	}
}

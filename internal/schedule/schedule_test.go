package schedule

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// periods reads "09:00-12:30" ranges.
func periods(t *testing.T, ranges ...string) []Period {
	t.Helper()
	var ps []Period
	for _, r := range ranges {
		start, end, _ := strings.Cut(r, "-")
		ps = append(ps, Period{clock(t, start), clock(t, end)})
	}
	return ps
}

// on gives the same periods to each weekday.
func on(ps []Period, days ...time.Weekday) map[time.Weekday][]Period {
	m := map[time.Weekday][]Period{}
	for _, d := range days {
		m[d] = ps
	}
	return m
}

var everyDay = []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}

// Iranian missions abroad usually receive applicants Saturday to Wednesday.
var iranianWeek = []time.Weekday{time.Saturday, time.Sunday, time.Monday, time.Tuesday, time.Wednesday}

// window returns the window [00:00, next 00:00) of a local date.
func window(loc *time.Location, d Date) (time.Time, time.Time) {
	return d.In(loc), d.AddDays(1).In(loc)
}

// starts writes the slots' starts in UTC and, after "=", in local time, so a
// failure shows both readings.
func starts(slots []Slot) string {
	var b []string
	for _, s := range slots {
		b = append(b, s.Start.UTC().Format("01-02T15:04Z")+"="+s.Start.Format("15:04"))
	}
	return strings.Join(b, " ")
}

// checkSlots checks what every slot must satisfy whatever the zone: it
// carries the mission's location, lasts its length in elapsed time, and the
// list is in order.
func checkSlots(t *testing.T, loc *time.Location, slots []Slot, minutes int) {
	t.Helper()
	for i, s := range slots {
		if s.Start.Location() != loc || s.End.Location() != loc {
			t.Errorf("slot %d is in %s, want %s", i, s.Start.Location(), loc)
		}
		if got := s.End.Sub(s.Start); got != time.Duration(minutes)*time.Minute {
			t.Errorf("slot %d lasts %s, want %d minutes", i, got, minutes)
		}
		if i > 0 && s.Start.Before(slots[i-1].Start) {
			t.Errorf("slot %d starts before slot %d", i, i-1)
		}
	}
}

func TestABookingAtNineThirtyInTokyoIsNineThirtyTokyoTimeWhateverTheCallersZone(t *testing.T) {
	tokyo, newYork := load(t, "Asia/Tokyo"), load(t, "America/New_York")
	tpl := Template{ID: 1, Weekdays: on(periods(t, "09:30-10:00"), time.Monday), SlotMinutes: 30, Capacity: 3}
	// The window is given in New York time: Sunday evening there is Monday in Tokyo.
	from := time.Date(2026, time.June, 14, 12, 0, 0, 0, newYork)
	got := Slots(tokyo, []Template{tpl}, nil, from, from.Add(24*time.Hour))
	if s := starts(got); s != "06-15T00:30Z=09:30" {
		t.Fatalf("slots = %s", s)
	}
	checkSlots(t, tokyo, got, 30)
	if got[0].Capacity != 3 || got[0].TemplateID != 1 {
		t.Errorf("slot = %+v", got[0])
	}
}

func TestOpeningHoursInTehranAndKabulFollowTheirOffsets(t *testing.T) {
	tpl := Template{ID: 1, Weekdays: on(periods(t, "09:00-10:00"), everyDay...), SlotMinutes: 30, Capacity: 1}
	for _, tc := range []struct {
		name, zone string
		date       Date
		want       string
	}{
		{"Tehran winter, +03:30", "Asia/Tehran", Date{2026, time.January, 10}, "01-10T05:30Z=09:00 01-10T06:00Z=09:30"},
		{"Tehran summer: no DST since 2022", "Asia/Tehran", Date{2026, time.June, 13}, "06-13T05:30Z=09:00 06-13T06:00Z=09:30"},
		{"Tehran summer 2021 still had DST, +04:30", "Asia/Tehran", Date{2021, time.June, 12}, "06-12T04:30Z=09:00 06-12T05:00Z=09:30"},
		{"Kabul winter, +04:30", "Asia/Kabul", Date{2026, time.January, 10}, "01-10T04:30Z=09:00 01-10T05:00Z=09:30"},
		{"Kabul summer, +04:30", "Asia/Kabul", Date{2026, time.June, 13}, "06-13T04:30Z=09:00 06-13T05:00Z=09:30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := load(t, tc.zone)
			from, until := window(loc, tc.date)
			got := Slots(loc, []Template{tpl}, nil, from, until)
			if s := starts(got); s != tc.want {
				t.Errorf("slots = %s\nwant    %s", s, tc.want)
			}
			checkSlots(t, loc, got, 30)
		})
	}
}

func TestViennaNineOClockIsEightZuluInWinterAndSevenInSummer(t *testing.T) {
	vienna := load(t, "Europe/Vienna")
	tpl := Template{ID: 1, Weekdays: on(periods(t, "09:00-09:15"), time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday), SlotMinutes: 15, Capacity: 2}
	// Friday before and Monday after each change, and a weekend between.
	for _, tc := range []struct {
		from, until Date
		want        string
	}{
		{Date{2026, time.March, 27}, Date{2026, time.March, 31}, "03-27T08:00Z=09:00 03-30T07:00Z=09:00"},
		{Date{2026, time.October, 23}, Date{2026, time.October, 27}, "10-23T07:00Z=09:00 10-26T08:00Z=09:00"},
	} {
		got := Slots(vienna, []Template{tpl}, nil, tc.from.In(vienna), tc.until.In(vienna))
		if s := starts(got); s != tc.want {
			t.Errorf("%s..%s: slots = %s\nwant %s", tc.from, tc.until, s, tc.want)
		}
		checkSlots(t, vienna, got, 15)
	}
}

func TestDaylightSavingGapsHaveNoSlotsAndRepeatedHoursHaveOne(t *testing.T) {
	for _, tc := range []struct {
		name, zone string
		date       Date
		period     string
		minutes    int
		want       string
	}{
		{
			// 02:00 CET becomes 03:00 CEST: 02:00 and 02:30 do not exist.
			name: "Vienna spring forward", zone: "Europe/Vienna", date: Date{2026, time.March, 29},
			period: "01:30-03:30", minutes: 30,
			want: "03-29T00:30Z=01:30 03-29T01:00Z=03:00",
		},
		{
			// 03:00 CEST becomes 02:00 CET: 02:00 and 02:30 happen twice and
			// are kept once, in CEST; 03:00 is CET. The second 02:xx hour
			// (01:00Z-02:00Z) has no slot.
			name: "Vienna fall back", zone: "Europe/Vienna", date: Date{2026, time.October, 25},
			period: "01:30-03:30", minutes: 30,
			want: "10-24T23:30Z=01:30 10-25T00:00Z=02:00 10-25T00:30Z=02:30 10-25T02:00Z=03:00",
		},
		{
			name: "New York spring forward", zone: "America/New_York", date: Date{2026, time.March, 8},
			period: "01:30-03:30", minutes: 30,
			want: "03-08T06:30Z=01:30 03-08T07:00Z=03:00",
		},
		{
			// 02:00 EDT becomes 01:00 EST: 01:00 and 01:30 are kept in EDT.
			name: "New York fall back", zone: "America/New_York", date: Date{2026, time.November, 1},
			period: "00:30-02:30", minutes: 30,
			want: "11-01T04:30Z=00:30 11-01T05:00Z=01:00 11-01T05:30Z=01:30 11-01T07:00Z=02:00",
		},
		{
			// Iran's DST began at midnight: 00:00 did not exist that day.
			name: "Tehran 2021 spring forward at midnight", zone: "Asia/Tehran", date: Date{2021, time.March, 22},
			period: "00:00-02:00", minutes: 60,
			want: "03-21T20:30Z=01:00",
		},
		{
			// ... and ended at midnight: 23:00-24:00 happened twice.
			name: "Tehran 2021 fall back at midnight", zone: "Asia/Tehran", date: Date{2021, time.September, 21},
			period: "22:00-24:00", minutes: 60,
			want: "09-21T17:30Z=22:00 09-21T18:30Z=23:00",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := load(t, tc.zone)
			tpl := Template{ID: 1, Weekdays: on(periods(t, tc.period), everyDay...), SlotMinutes: tc.minutes, Capacity: 1}
			from, until := window(loc, tc.date)
			got := Slots(loc, []Template{tpl}, nil, from, until)
			if s := starts(got); s != tc.want {
				t.Errorf("slots = %s\nwant    %s", s, tc.want)
			}
			checkSlots(t, loc, got, tc.minutes)
		})
	}
}

func TestClosuresRemoveTheSlotsTheyOverlap(t *testing.T) {
	tehran := load(t, "Asia/Tehran")
	tpl := Template{ID: 1, Weekdays: on(periods(t, "09:00-12:00"), iranianWeek...), SlotMinutes: 30, Capacity: 3}
	nowruz := Date{2026, time.March, 21} // a Saturday
	next := nowruz.AddDays(1)
	all := "09:00 09:30 10:00 10:30 11:00 11:30"
	for _, tc := range []struct {
		name     string
		closures []Closure
		want     string // local starts on the day after Nowruz
	}{
		{"none", nil, all},
		{"whole day", []Closure{{Date: next, Reason: "Nowruz holidays"}}, ""},
		{"another day", []Closure{{Date: nowruz, Reason: "Nowruz"}}, all},
		{"on slot boundaries", []Closure{{Date: next, Start: clock(t, "10:00"), End: clock(t, "11:00")}}, "09:00 09:30 11:00 11:30"},
		{"inside slots", []Closure{{Date: next, Start: clock(t, "10:10"), End: clock(t, "10:50")}}, "09:00 09:30 11:00 11:30"},
		{"touching the period's end", []Closure{{Date: next, Start: clock(t, "12:00"), End: clock(t, "13:00")}}, all},
		{"to midnight", []Closure{{Date: next, Start: clock(t, "11:15"), End: EndOfDay}}, "09:00 09:30 10:00 10:30"},
		{"two partial", []Closure{
			{Date: next, Start: clock(t, "09:00"), End: clock(t, "09:30")},
			{Date: next, Start: clock(t, "11:30"), End: clock(t, "12:00")},
		}, "09:30 10:00 10:30 11:00"},
		{"invalid closure ignored", []Closure{{Date: next, Start: clock(t, "11:00"), End: clock(t, "10:00")}}, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, until := window(tehran, next)
			var got []string
			for _, s := range Slots(tehran, []Template{tpl}, tc.closures, from, until) {
				got = append(got, s.Start.Format("15:04"))
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("slots = %s, want %s", s, tc.want)
			}
		})
	}
	// The whole-day closure on Nowruz leaves the days around it alone.
	from, _ := window(tehran, nowruz.AddDays(-3))
	_, until := window(tehran, next)
	got := Slots(tehran, []Template{tpl}, []Closure{{Date: nowruz, Reason: "Nowruz"}}, from, until)
	for _, s := range got {
		if DateOf(s.Start) == nowruz {
			t.Errorf("slot %s on Nowruz", s.Start)
		}
	}
	if len(got) != 12 { // six on Wednesday, six on Sunday; Thursday and Friday have no period
		t.Errorf("%d slots around Nowruz, want 12: %s", len(got), starts(got))
	}
}

func TestTheWindowIncludesFromAndExcludesUntil(t *testing.T) {
	kabul := load(t, "Asia/Kabul")
	tpl := Template{ID: 1, Weekdays: on(periods(t, "09:00-11:00"), everyDay...), SlotMinutes: 30, Capacity: 1}
	at := func(hhmm string) time.Time {
		c := clock(t, hhmm)
		return time.Date(2026, time.June, 15, int(c)/60, int(c)%60, 0, 0, kabul)
	}
	for _, tc := range []struct {
		name        string
		from, until time.Time
		want        string
	}{
		{"whole day", at("00:00"), at("24:00"), "09:00 09:30 10:00 10:30"},
		{"from a slot's start includes it", at("09:30"), at("24:00"), "09:30 10:00 10:30"},
		{"from inside a slot excludes it", at("09:31"), at("24:00"), "10:00 10:30"},
		{"until a slot's start excludes it", at("00:00"), at("10:00"), "09:00 09:30"},
		{"until just after a slot's start includes it", at("00:00"), at("10:00").Add(time.Nanosecond), "09:00 09:30 10:00"},
		{"one slot", at("10:00"), at("10:30"), "10:00"},
		{"empty window", at("10:00"), at("10:00"), ""},
		{"reversed window", at("11:00"), at("09:00"), ""},
		{"given in UTC", at("09:30").UTC(), at("10:30").UTC(), "09:30 10:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range Slots(kabul, []Template{tpl}, nil, tc.from, tc.until) {
				got = append(got, s.Start.Format("15:04"))
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("slots = %s, want %s", s, tc.want)
			}
		})
	}
}

func TestServiceGroupsEachHaveTheirTemplate(t *testing.T) {
	vienna := load(t, "Europe/Vienna")
	passports := Template{ID: 1, Weekdays: on(periods(t, "09:00-10:00"), time.Monday), SlotMinutes: 30, Capacity: 2, Services: []string{"passport", "travel_document"}}
	others := Template{ID: 2, Weekdays: on(periods(t, "09:00-11:00"), time.Monday), SlotMinutes: 60, Capacity: 1}
	apostille := Template{ID: 3, Weekdays: on(periods(t, "14:00-15:00"), time.Monday), SlotMinutes: 60, Capacity: 5, Services: []string{"apostille"}}
	templates := []Template{apostille, others, passports}
	from, until := window(vienna, Date{2026, time.June, 15})

	type slot struct {
		at       string
		template int64
		capacity int
	}
	for _, tc := range []struct {
		service string
		want    []slot
	}{
		{"", []slot{{"09:00", 1, 2}, {"09:00", 2, 1}, {"09:30", 1, 2}, {"10:00", 2, 1}, {"14:00", 3, 5}}},
		{"passport", []slot{{"09:00", 1, 2}, {"09:00", 2, 1}, {"09:30", 1, 2}, {"10:00", 2, 1}}},
		{"apostille", []slot{{"09:00", 2, 1}, {"10:00", 2, 1}, {"14:00", 3, 5}}},
		{"power_of_attorney", []slot{{"09:00", 2, 1}, {"10:00", 2, 1}}},
	} {
		ts := templates
		if tc.service != "" {
			ts = Offering(templates, tc.service)
		}
		var got []slot
		for _, s := range Slots(vienna, ts, nil, from, until) {
			got = append(got, slot{s.Start.Format("15:04"), s.TemplateID, s.Capacity})
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q: slots = %v, want %v", tc.service, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: slots = %v, want %v", tc.service, got, tc.want)
				break
			}
		}
	}
}

func TestTemplatesApplyFromTheirFirstToTheirLastDay(t *testing.T) {
	newYork := load(t, "America/New_York")
	ps := on(periods(t, "09:00-09:30"), everyDay...)
	old := Template{ID: 1, Weekdays: ps, SlotMinutes: 30, Capacity: 1, ValidUntil: Date{2026, time.June, 30}}
	summer := Template{ID: 2, Weekdays: ps, SlotMinutes: 30, Capacity: 1, ValidFrom: Date{2026, time.July, 1}, ValidUntil: Date{2026, time.July, 2}}
	from, _ := window(newYork, Date{2026, time.June, 29})
	_, until := window(newYork, Date{2026, time.July, 3})
	var got []string
	for _, s := range Slots(newYork, []Template{old, summer}, nil, from, until) {
		got = append(got, fmt.Sprintf("%s#%d", s.Start.Format("01-02"), s.TemplateID))
	}
	if s, want := strings.Join(got, " "), "06-29#1 06-30#1 07-01#2 07-02#2"; s != want {
		t.Errorf("slots = %s, want %s", s, want)
	}
}

func TestValidateRefusesTemplatesThatWouldYieldOddSlots(t *testing.T) {
	good := func() Template {
		return Template{ID: 7, Weekdays: on(periods(t, "09:00-12:30", "14:00-16:00"), time.Monday), SlotMinutes: 30, Capacity: 3}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("good template refused: %v", err)
	}
	allDay := Template{ID: 8, Weekdays: on(periods(t, "00:00-24:00"), everyDay...), SlotMinutes: 24 * 60, Capacity: 1,
		ValidFrom: Date{2026, 1, 1}, ValidUntil: Date{2026, 1, 1}}
	if err := allDay.Validate(); err != nil {
		t.Fatalf("all-day template refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Template)
	}{
		{"no slot length", func(t *Template) { t.SlotMinutes = 0 }},
		{"negative slot length", func(t *Template) { t.SlotMinutes = -15 }},
		{"slot longer than a day", func(t *Template) { t.SlotMinutes = 24*60 + 1 }},
		{"slot length does not divide a period", func(t *Template) { t.SlotMinutes = 45 }},
		{"slot longer than a period", func(t *Template) { t.Weekdays[time.Tuesday] = []Period{{9 * 60, 9*60 + 15}} }},
		{"no capacity", func(t *Template) { t.Capacity = 0 }},
		{"no period", func(t *Template) { t.Weekdays = nil }},
		{"only empty weekdays", func(t *Template) { t.Weekdays = map[time.Weekday][]Period{time.Monday: nil} }},
		{"unknown weekday", func(t *Template) { t.Weekdays[time.Weekday(7)] = []Period{{9 * 60, 10 * 60}} }},
		{"end before start", func(t *Template) { t.Weekdays[time.Tuesday] = []Period{{10 * 60, 9 * 60}} }},
		{"empty period", func(t *Template) { t.Weekdays[time.Tuesday] = []Period{{10 * 60, 10 * 60}} }},
		{"past midnight", func(t *Template) { t.Weekdays[time.Tuesday] = []Period{{23 * 60, 24*60 + 30}} }},
		{"before midnight", func(t *Template) { t.Weekdays[time.Tuesday] = []Period{{-30, 60}} }},
		{"overlapping periods", func(t *Template) {
			t.Weekdays[time.Tuesday] = []Period{{14 * 60, 16 * 60}, {9 * 60, 14*60 + 30}}
		}},
		{"blank service", func(t *Template) { t.Services = []string{"passport", ""} }},
		{"ends before it starts", func(t *Template) {
			t.ValidFrom, t.ValidUntil = Date{2026, time.July, 1}, Date{2026, time.June, 30}
		}},
		{"validity date that does not exist", func(t *Template) { t.ValidFrom = Date{2026, time.February, 30} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl := good()
			tc.change(&tpl)
			err := tpl.Validate()
			if !errors.Is(err, ErrTemplate) {
				t.Fatalf("Validate = %v, want ErrTemplate", err)
			}
			// Slots ignores what Validate refuses, and does not hang on it.
			from := time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC)
			if got := Slots(time.UTC, []Template{tpl}, nil, from, from.AddDate(0, 0, 14)); len(got) != 0 {
				t.Errorf("invalid template yields %d slots", len(got))
			}
		})
	}
}

func TestValidateRefusesClosuresThatAreNotPeriodsOfADay(t *testing.T) {
	d := Date{2026, time.March, 21}
	for _, c := range []Closure{
		{Date: d},
		{Date: d, Start: 0, End: EndOfDay},
		{Date: d, Start: 10 * 60, End: 11 * 60},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v refused: %v", c, err)
		}
	}
	for _, c := range []Closure{
		{},
		{Date: Date{2026, time.February, 29}},
		{Date: d, Start: 10 * 60},
		{Date: d, Start: 11 * 60, End: 10 * 60},
		{Date: d, Start: 10 * 60, End: EndOfDay + 1},
		{Date: d, Start: -1, End: 60},
	} {
		if err := c.Validate(); !errors.Is(err, ErrClosure) {
			t.Errorf("%+v: %v, want ErrClosure", c, err)
		}
	}
}

func TestDroppedNamesTheSlotsATemplateChangeRemoves(t *testing.T) {
	tehran := load(t, "Asia/Tehran")
	day := Date{2026, time.April, 4} // a Saturday
	from, until := window(tehran, day)
	before := Template{ID: 1, Weekdays: on(periods(t, "09:00-12:00"), iranianWeek...), SlotMinutes: 30, Capacity: 3}
	morning := periods(t, "09:00-11:00")
	for _, tc := range []struct {
		name     string
		change   func(*Template)
		closures []Closure
		want     string // local starts of the dropped slots
	}{
		{"unchanged", func(*Template) {}, nil, ""},
		{"capacity lowered", func(t *Template) { t.Capacity = 1 }, nil, ""},
		{"longer slots keep their starts", func(t *Template) { t.SlotMinutes = 60 }, nil, "09:30 10:30 11:30"},
		{"shorter slots keep every start", func(t *Template) { t.SlotMinutes = 15 }, nil, ""},
		{"closing earlier", func(tpl *Template) { tpl.Weekdays = on(morning, iranianWeek...) }, nil, "11:00 11:30"},
		{"closing Saturdays", func(t *Template) { delete(t.Weekdays, time.Saturday) }, nil, "09:00 09:30 10:00 10:30 11:00 11:30"},
		{"ending the day before", func(t *Template) { t.ValidUntil = day.AddDays(-1) }, nil, "09:00 09:30 10:00 10:30 11:00 11:30"},
		{"replaced by another template", func(t *Template) { t.ID = 2 }, nil, "09:00 09:30 10:00 10:30 11:00 11:30"},
		{"a new closure", func(*Template) {}, []Closure{{Date: day, Start: 10 * 60, End: 11 * 60}}, "10:00 10:30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := before
			after.Weekdays = on(periods(t, "09:00-12:00"), iranianWeek...)
			tc.change(&after)
			old := Slots(tehran, []Template{before}, nil, from, until)
			gone := Dropped(old, Slots(tehran, []Template{after}, tc.closures, from, until))
			var got []string
			for _, s := range gone {
				got = append(got, s.Start.Format("15:04"))
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("dropped = %s, want %s", s, tc.want)
			}
		})
	}
}

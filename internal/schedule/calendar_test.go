package schedule

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	_ "time/tzdata" // the zones below must not depend on the machine's tzdata
)

func load(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func clock(t *testing.T, s string) Clock {
	t.Helper()
	c, err := ParseClock(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseClockReadsHoursAndMinutesUpToMidnight(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Clock
	}{
		{"00:00", 0},
		{"09:30", 9*60 + 30},
		{"9:30", 9*60 + 30},
		{"23:59", 23*60 + 59},
		{"24:00", EndOfDay},
	} {
		got, err := ParseClock(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseClock(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "0930", "9:5", "09:60", "24:01", "25:00", "-1:00", "09:3a", "009:30", "۰۹:۳۰", " 09:30"} {
		if got, err := ParseClock(in); !errors.Is(err, ErrClock) {
			t.Errorf("ParseClock(%q) = %d, %v; want ErrClock", in, got, err)
		}
	}
	if got := Clock(9*60 + 5).String(); got != "09:05" {
		t.Errorf("String = %q", got)
	}
}

func TestClosuresAndTemplatesTravelAsReadableJSON(t *testing.T) {
	in := Closure{Date: Date{2026, time.March, 21}, Start: 10 * 60, End: 11*60 + 30, Reason: "staff meeting"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"Date":"2026-03-21","Start":"10:00","End":"11:30","Reason":"staff meeting"}`
	if string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
	var out Closure
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("round trip = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"Date":"2026-02-30"}`), &out); !errors.Is(err, ErrDate) {
		t.Errorf("30 February: %v, want ErrDate", err)
	}
}

func TestDatesAreCalendarDays(t *testing.T) {
	d := Date{2026, time.December, 31}
	if got := d.AddDays(1); got != (Date{2027, time.January, 1}) {
		t.Errorf("31 Dec + 1 = %s", got)
	}
	if got := (Date{2028, time.March, 1}).AddDays(-1); got != (Date{2028, time.February, 29}) {
		t.Errorf("1 Mar 2028 - 1 = %s", got)
	}
	if got := (Date{2026, time.March, 21}).Weekday(); got != time.Saturday {
		t.Errorf("2026-03-21 is a %s", got)
	}
	if (Date{2026, time.February, 29}).Valid() || (Date{2026, time.April, 31}).Valid() || (Date{}).Valid() {
		t.Error("a day that does not exist is valid")
	}
	if got, err := ParseDate("2026-03-29"); err != nil || got != (Date{2026, time.March, 29}) {
		t.Errorf("ParseDate = %v, %v", got, err)
	}
	if c := (Date{2026, 3, 1}).Compare(Date{2026, 2, 28}); c != 1 {
		t.Errorf("Compare = %d", c)
	}
	// 21:00Z on 20 March is already 21 March (Nowruz) in Tehran.
	instant := time.Date(2026, time.March, 20, 21, 0, 0, 0, time.UTC)
	if got := DateOf(instant.In(load(t, "Asia/Tehran"))); got != (Date{2026, time.March, 21}) {
		t.Errorf("DateOf in Tehran = %s", got)
	}
	if got := DateOf(instant); got != (Date{2026, time.March, 20}) {
		t.Errorf("DateOf in UTC = %s", got)
	}
}

func TestDateInIsTheFirstInstantOfTheLocalDay(t *testing.T) {
	for _, tc := range []struct {
		zone string
		date Date
		want string // UTC
	}{
		{"Asia/Tehran", Date{2026, time.March, 22}, "2026-03-21T20:30:00Z"},
		{"Asia/Kabul", Date{2026, time.March, 22}, "2026-03-21T19:30:00Z"},
		{"Europe/Vienna", Date{2026, time.March, 29}, "2026-03-28T23:00:00Z"},
		{"Europe/Vienna", Date{2026, time.March, 30}, "2026-03-29T22:00:00Z"},
		{"America/New_York", Date{2026, time.November, 1}, "2026-11-01T04:00:00Z"},
		// Iran's DST began at midnight until 2022: that day began at 01:00.
		{"Asia/Tehran", Date{2021, time.March, 22}, "2021-03-21T20:30:00Z"},
		// Samoa skipped 30 December 2011; the day after began at +14:00.
		{"Pacific/Apia", Date{2011, time.December, 31}, "2011-12-30T10:00:00Z"},
	} {
		loc := load(t, tc.zone)
		got := tc.date.In(loc)
		if got.UTC().Format(time.RFC3339) != tc.want || got.Location() != loc || DateOf(got) != tc.date {
			t.Errorf("%s in %s = %s (%s), want %s", tc.date, tc.zone, got, got.UTC().Format(time.RFC3339), tc.want)
		}
	}
}

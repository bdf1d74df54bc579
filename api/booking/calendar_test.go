package booking

import (
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/appointments"
	"github.com/openconsular/consular/internal/schedule"
)

// days of slots in Vienna from Monday 7 December 2026: each day 09:00,
// 11:30 and 12:00 (seats free[i] at each), full when free[i] is 0.
func calendarSlots(t *testing.T, free []int) ([]appointments.Slot, *time.Location) {
	t.Helper()
	vienna, err := time.LoadLocation("Europe/Vienna")
	if err != nil {
		t.Fatal(err)
	}
	var out []appointments.Slot
	for i, n := range free {
		for _, hm := range [][2]int{{9, 0}, {11, 30}, {12, 0}} {
			start := time.Date(2026, 12, 7+i, hm[0], hm[1], 0, 0, vienna).UTC()
			out = append(out, appointments.Slot{Slot: schedule.Slot{Start: start, End: start.Add(30 * time.Minute), Capacity: 3}, Free: n})
		}
	}
	return out, vienna
}

func englishPage(t *testing.T) *web.Page {
	t.Helper()
	cat, err := web.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	return (&web.Renderer{Messages: cat}).NewPage("en")
}

func openDays(days []calendarDay) []string {
	var out []string
	for _, d := range days {
		if d.Open {
			out = append(out, d.ID)
		}
	}
	return out
}

// The calendar offers ten days with a free time and the full days between
// them, not the full ones after the last; one day is open: the chosen
// time's, else ?day='s, else the first with a free time, never a full one.
func TestCalendarShowsTenFreeDaysAndOpensOne(t *testing.T) {
	free := []int{0, 3, 3, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0}
	slots, vienna := calendarSlots(t, free)
	pg := englishPage(t)
	for _, tc := range []struct {
		name, chosen, day string
		open              string
	}{
		{"first free day by default", "", "", "2026-12-08"},
		{"the chosen time's day", "2026-12-09T09:00:00+01:00", "", "2026-12-09"},
		{"not the chosen time's day when full", "2026-12-10T09:00:00+01:00", "", "2026-12-08"},
		{"the chosen time wins over ?day=", "2026-12-09T09:00:00+01:00", "2026-12-11", "2026-12-09"},
		{"?day=", "", "2026-12-12", "2026-12-12"},
		{"not a full day", "", "2026-12-07", "2026-12-08"},
		{"not an unknown day", "", "2027-01-01", "2026-12-08"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			days := calendarOf(slots, vienna, pg, time.Time{}, tc.chosen, tc.day)
			// Days 7 (full), 8, 9, 10 (full), 11..18: ten free days and two full ones.
			if len(days) != 12 || days[0].ID != "2026-12-07" || days[11].ID != "2026-12-18" {
				t.Fatalf("%d days from %s to %s, want 12 from 2026-12-07 to 2026-12-18", len(days), days[0].ID, days[len(days)-1].ID)
			}
			if !days[0].Full() || !days[3].Full() || days[1].Full() {
				t.Errorf("full days: 7th %v, 10th %v, 8th %v", days[0].Full(), days[3].Full(), days[1].Full())
			}
			if got := openDays(days); len(got) != 1 || got[0] != tc.open {
				t.Errorf("open days %v, want [%s]", got, tc.open)
			}
		})
	}
	days := calendarOf(slots, vienna, pg, time.Time{}, "2026-12-08T11:30:00+01:00", "")
	d := days[1]
	if d.Weekday != "Tuesday" || d.Date != "8 December" || d.Beside != "" || d.Free != 3 {
		t.Errorf("the 8th reads %q %q %q with %d free", d.Weekday, d.Date, d.Beside, d.Free)
	}
	if len(d.Periods) != 2 || d.Periods[0].Key != "booking.cal.morning" || len(d.Periods[0].Times) != 2 ||
		d.Periods[1].Key != "booking.cal.afternoon" || d.Periods[1].Times[0].Start.Hour() != 12 {
		t.Errorf("periods %+v, want 09:00 and 11:30 in the morning, 12:00 in the afternoon", d.Periods)
	}
	if !d.Periods[0].Times[1].Checked || d.Periods[0].Times[0].Checked {
		t.Error("the chosen time is not the one checked")
	}
}

// The booked time is the applicant's own: shown, not counted free, not
// checked; in Persian a day reads in the Solar Hijri calendar with the
// Gregorian date beside it.
func TestCalendarMarksTheBookedTimeAndNamesPersianDays(t *testing.T) {
	slots, vienna := calendarSlots(t, []int{3, 3})
	booked := time.Date(2026, 12, 7, 9, 0, 0, 0, vienna)
	cat, err := web.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	days := calendarOf(slots, vienna, (&web.Renderer{Messages: cat}).NewPage("fa"), booked, booked.Format(time.RFC3339), "")
	mine := days[0].Periods[0].Times[0]
	if !mine.Mine || mine.Checked || days[0].Free != 2 {
		t.Errorf("booked time: mine %v, checked %v; the day has %d free, want 2", mine.Mine, mine.Checked, days[0].Free)
	}
	if d := days[0]; d.Weekday != "دوشنبه" || d.Date != "۱۶ آذر" || d.Beside != "۷ دسامبر" {
		t.Errorf("Monday 7 December 2026 reads %q %q %q, want دوشنبه ۱۶ آذر beside ۷ دسامبر", d.Weekday, d.Date, d.Beside)
	}
}

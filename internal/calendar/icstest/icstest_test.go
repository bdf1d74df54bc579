package icstest

import (
	"bytes"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-ical"

	"github.com/openconsular/consular/internal/calendar"
)

const persian = "لطفاً گذرنامه، شناسنامه و دو قطعه عکس ۴×۳ رنگی را همراه داشته باشید. " +
	"در صورت تأخیر بیش از پانزده دقیقه، نوبت شما لغو می‌شود و باید نوبت تازه‌ای بگیرید. " +
	"نشانی: خیابان ۱۲، پلاک ۳؛ طبقه دوم."

func appointment(t *testing.T, zone string, start time.Time) calendar.Event {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatalf("load %s: %v", zone, err)
	}
	return calendar.Event{
		UID:         "4821-7730-9152-06-1@consular.example",
		Sequence:    1,
		Start:       start,
		End:         start.Add(30 * time.Minute),
		Location:    loc,
		Summary:     "Consular appointment 4821-7730-9152-06 / نوبت کنسولی",
		Description: "Bring your passport.",
		Place:       "Embassy of Iran, Vienna",
		Organizer:   "appointments@consular.example",
		Stamp:       time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC),
	}
}

// parse writes e, parses it back, and checks that go-ical's own encoder,
// which enforces RFC 5545's required and single-valued properties, accepts
// what was read.
func parse(t *testing.T, e calendar.Event) (*ical.Calendar, *ical.Event, []byte) {
	t.Helper()
	raw, err := calendar.Bytes(e)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(raw)).Decode()
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	if err := ical.NewEncoder(io.Discard).Encode(cal); err != nil {
		t.Fatalf("parsed calendar is not valid: %v\n%s", err, raw)
	}
	events := cal.Events()
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	return cal, &events[0], raw
}

func text(t *testing.T, c *ical.Component, name string) string {
	t.Helper()
	p := c.Props.Get(name)
	if p == nil {
		t.Fatalf("%s has no %s", c.Name, name)
	}
	s, err := p.Text()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// checkTime checks that property name of ev reads wall in zone, and that
// both the zone's name (as go-ical resolves it) and the VTIMEZONE in the
// file (for apps that only trust the file) put it at the instant want.
func checkTime(t *testing.T, cal *ical.Calendar, ev *ical.Event, name, zone, wall string, want time.Time) {
	t.Helper()
	p := ev.Props.Get(name)
	if p == nil {
		t.Fatalf("no %s", name)
	}
	if got := p.Params.Get(ical.ParamTimezoneID); got != zone {
		t.Errorf("%s TZID %q, want %q", name, got, zone)
	}
	if p.Value != wall {
		t.Errorf("%s %s, want %s", name, p.Value, wall)
	}
	got, err := p.DateTime(nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !got.Equal(want) || got.Location().String() != zone {
		t.Errorf("%s read as %s, want %s in %s", name, got, want.UTC(), zone)
	}
	if got := resolve(t, timezone(t, cal, zone), wall); !got.Equal(want) {
		t.Errorf("%s by the file's VTIMEZONE is %s, want %s", name, got.UTC(), want.UTC())
	}
}

func timezone(t *testing.T, cal *ical.Calendar, tzid string) *ical.Component {
	t.Helper()
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone && c.Props.Get(ical.PropTimezoneID).Value == tzid {
			return c
		}
	}
	t.Fatalf("no VTIMEZONE %q", tzid)
	return nil
}

// onset is when an observance takes effect.
type onset struct {
	at     time.Time
	offset int // TZOFFSETTO, seconds east of UTC
}

// onsets expands every STANDARD and DAYLIGHT of tz up to until, RRULEs
// through go-ical's recurrence support (rrule-go). DTSTART in an observance
// is a wall clock in TZOFFSETFROM, so it is read as UTC and shifted.
func onsets(t *testing.T, tz *ical.Component, until time.Time) []onset {
	t.Helper()
	var all []onset
	for _, o := range tz.Children {
		if o.Name != ical.CompTimezoneStandard && o.Name != ical.CompTimezoneDaylight {
			continue
		}
		from := offset(t, o.Props.Get(ical.PropTimezoneOffsetFrom).Value)
		to := offset(t, o.Props.Get(ical.PropTimezoneOffsetTo).Value)
		start, err := o.Props.DateTime(ical.PropDateTimeStart, time.UTC)
		if err != nil {
			t.Fatalf("observance DTSTART: %v", err)
		}
		starts := []time.Time{start}
		set, err := o.RecurrenceSet(time.UTC)
		if err != nil {
			t.Fatalf("observance RRULE: %v", err)
		}
		if set != nil {
			starts = set.Between(start, until, true)
		}
		for _, s := range starts {
			all = append(all, onset{at: s.Add(-time.Duration(from) * time.Second), offset: to})
		}
	}
	slices.SortFunc(all, func(a, b onset) int { return a.at.Compare(b.at) })
	return all
}

// resolve finds the instant of a wall clock reading by the VTIMEZONE alone:
// the offset o for which the observance in effect at wall-o has offset o.
func resolve(t *testing.T, tz *ical.Component, wall string) time.Time {
	t.Helper()
	w, err := time.ParseInLocation("20060102T150405", wall, time.UTC)
	if err != nil {
		t.Fatalf("wall %q: %v", wall, err)
	}
	all := onsets(t, tz, w.AddDate(0, 0, 2))
	for _, candidate := range all {
		instant := w.Add(-time.Duration(candidate.offset) * time.Second)
		i := -1
		for j, o := range all {
			if !o.at.After(instant) {
				i = j
			}
		}
		if i >= 0 && all[i].offset == candidate.offset {
			return instant
		}
	}
	t.Fatalf("no observance of %s covers %s", tz.Props.Get(ical.PropTimezoneID).Value, wall)
	return time.Time{}
}

func offset(t *testing.T, v string) int {
	t.Helper()
	if len(v) != 5 && len(v) != 7 || (v[0] != '+' && v[0] != '-') {
		t.Fatalf("bad UTC offset %q", v)
	}
	n := func(s string) int {
		i, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("bad UTC offset %q", v)
		}
		return i
	}
	s := n(v[1:3])*3600 + n(v[3:5])*60
	if len(v) == 7 {
		s += n(v[5:7])
	}
	if v[0] == '-' {
		s = -s
	}
	return s
}

func TestTokyoAppointmentParsesBackAt0930TokyoTime(t *testing.T) {
	start := time.Date(2026, 3, 10, 0, 30, 0, 0, time.UTC)
	cal, ev, _ := parse(t, appointment(t, "Asia/Tokyo", start))
	checkTime(t, cal, ev, ical.PropDateTimeStart, "Asia/Tokyo", "20260310T093000", start)
	checkTime(t, cal, ev, ical.PropDateTimeEnd, "Asia/Tokyo", "20260310T100000", start.Add(30*time.Minute))
	if got := cal.Props.Get(ical.PropMethod).Value; got != "REQUEST" {
		t.Errorf("METHOD %s", got)
	}
	if got := cal.Props.Get(ical.PropVersion).Value; got != "2.0" {
		t.Errorf("VERSION %s", got)
	}
	if got := text(t, ev.Component, ical.PropSummary); got != "Consular appointment 4821-7730-9152-06 / نوبت کنسولی" {
		t.Errorf("SUMMARY %q", got)
	}
	alarms := ev.Children
	if len(alarms) != 1 || alarms[0].Props.Get(ical.PropTrigger).Value != "-PT24H" || alarms[0].Props.Get(ical.PropAction).Value != "DISPLAY" {
		t.Errorf("want one DISPLAY alarm a day before, got %+v", alarms)
	}
}

func TestViennaAppointmentsParseBackInCESTAndCET(t *testing.T) {
	for _, c := range []struct {
		name  string
		start time.Time
		wall  string
	}{
		{"July, CEST", time.Date(2026, 7, 15, 7, 30, 0, 0, time.UTC), "20260715T093000"},
		{"January, CET", time.Date(2027, 1, 15, 8, 30, 0, 0, time.UTC), "20270115T093000"},
		{"day after spring change", time.Date(2026, 3, 30, 7, 30, 0, 0, time.UTC), "20260330T093000"},
		{"day before autumn change", time.Date(2026, 10, 24, 7, 30, 0, 0, time.UTC), "20261024T093000"},
		{"day after autumn change", time.Date(2026, 10, 26, 8, 30, 0, 0, time.UTC), "20261026T093000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cal, ev, _ := parse(t, appointment(t, "Europe/Vienna", c.start))
			checkTime(t, cal, ev, ical.PropDateTimeStart, "Europe/Vienna", c.wall, c.start)
		})
	}
}

func TestFixedOffsetZonesParseBack(t *testing.T) {
	for _, c := range []struct {
		zone  string
		start time.Time
		wall  string
	}{
		{"Asia/Tehran", time.Date(2026, 7, 15, 6, 0, 0, 0, time.UTC), "20260715T093000"},     // +03:30
		{"Asia/Kabul", time.Date(2026, 7, 15, 5, 0, 0, 0, time.UTC), "20260715T093000"},      // +04:30
		{"Asia/Kolkata", time.Date(2026, 12, 1, 4, 0, 0, 0, time.UTC), "20261201T093000"},    // +05:30
		{"Asia/Kathmandu", time.Date(2026, 12, 1, 3, 45, 0, 0, time.UTC), "20261201T093000"}, // +05:45
	} {
		t.Run(c.zone, func(t *testing.T) {
			cal, ev, _ := parse(t, appointment(t, c.zone, c.start))
			checkTime(t, cal, ev, ical.PropDateTimeStart, c.zone, c.wall, c.start)
		})
	}
}

func TestIrregularAndSouthernZonesParseBack(t *testing.T) {
	for _, c := range []struct {
		name, zone string
		start      time.Time
		wall       string
	}{
		{"Tehran in its last DST summer, 2022", "Asia/Tehran", time.Date(2022, 7, 10, 5, 0, 0, 0, time.UTC), "20220710T093000"},
		{"Casablanca during Ramadan", "Africa/Casablanca", time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC), "20260302T093000"},
		{"Casablanca after Ramadan", "Africa/Casablanca", time.Date(2026, 4, 2, 8, 30, 0, 0, time.UTC), "20260402T093000"},
		{"Sydney, southern DST", "Australia/Sydney", time.Date(2026, 1, 20, 22, 30, 0, 0, time.UTC), "20260121T093000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cal, ev, _ := parse(t, appointment(t, c.zone, c.start))
			checkTime(t, cal, ev, ical.PropDateTimeStart, c.zone, c.wall, c.start)
		})
	}
}

func TestLongPersianDescriptionFoldsAndUnfolds(t *testing.T) {
	e := appointment(t, "Asia/Tehran", time.Date(2026, 7, 15, 6, 0, 0, 0, time.UTC))
	e.Description = persian + "\n" + persian
	_, ev, raw := parse(t, e)
	lines := strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n")
	for i, l := range lines {
		if len(l) > 75 {
			t.Errorf("line %d has %d octets", i, len(l))
		}
		if !utf8.ValidString(l) {
			t.Errorf("line %d is not valid UTF-8: %q", i, l)
		}
	}
	if got := text(t, ev.Component, ical.PropDescription); got != e.Description {
		t.Errorf("DESCRIPTION read back as\n%q\nwant\n%q", got, e.Description)
	}
}

func TestDelimitersInTextSurviveParsing(t *testing.T) {
	e := appointment(t, "Asia/Tokyo", time.Date(2026, 3, 10, 0, 30, 0, 0, time.UTC))
	e.Summary = `Visa; passport, and C:\forms`
	e.Description = "Line one;\nline two, with a comma\r\nline three \\ backslash"
	e.Place = "Embassy, 1-2-3 Example; Minato-ku\nTokyo"
	_, ev, _ := parse(t, e)
	for prop, want := range map[string]string{
		ical.PropSummary:     e.Summary,
		ical.PropDescription: strings.ReplaceAll(e.Description, "\r\n", "\n"),
		ical.PropLocation:    e.Place,
	} {
		if got := text(t, ev.Component, prop); got != want {
			t.Errorf("%s read back as %q, want %q", prop, got, want)
		}
	}
}

func TestCancellationUpdatesTheSameEvent(t *testing.T) {
	start := time.Date(2026, 3, 10, 0, 30, 0, 0, time.UTC)
	booked := appointment(t, "Asia/Tokyo", start)
	cancelled := booked
	cancelled.Cancelled, cancelled.Sequence = true, booked.Sequence+1

	_, before, _ := parse(t, booked)
	cal, after, _ := parse(t, cancelled)
	if got := cal.Props.Get(ical.PropMethod).Value; got != "CANCEL" {
		t.Errorf("METHOD %s, want CANCEL", got)
	}
	if status, err := after.Status(); err != nil || status != ical.EventCancelled {
		t.Errorf("STATUS %q (%v), want CANCELLED", status, err)
	}
	if a, b := text(t, after.Component, ical.PropUID), text(t, before.Component, ical.PropUID); a != b {
		t.Errorf("UID changed from %q to %q", b, a)
	}
	seq := func(ev *ical.Event) int {
		n, err := ev.Props.Get(ical.PropSequence).Int()
		if err != nil {
			t.Fatalf("SEQUENCE: %v", err)
		}
		return n
	}
	if seq(after) <= seq(before) {
		t.Errorf("SEQUENCE %d is not above %d", seq(after), seq(before))
	}
	if got := after.Props.Get(ical.PropOrganizer).Value; got != "mailto:appointments@consular.example" {
		t.Errorf("ORGANIZER %q", got)
	}
}

package calendar

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The parse-back tests against a real iCalendar parser live in the icstest
// module next to this file; these need nothing outside the standard library.

const persian = "لطفاً گذرنامه، شناسنامه و دو قطعه عکس ۴×۳ رنگی را همراه داشته باشید. " +
	"در صورت تأخیر بیش از پانزده دقیقه، نوبت شما لغو می‌شود و باید نوبت تازه‌ای بگیرید."

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func appointment(t *testing.T, zone string, start time.Time) Event {
	t.Helper()
	return Event{
		UID:       "4821-7730-9152-06-1@consular.example",
		Sequence:  1,
		Start:     start,
		End:       start.Add(30 * time.Minute),
		Location:  mustLoad(t, zone),
		Summary:   "Consular appointment 4821-7730-9152-06 / نوبت کنسولی",
		Place:     "Embassy, 1-2-3 Example, Tokyo",
		Organizer: "appointments@consular.example",
		Stamp:     time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC),
	}
}

func mustWrite(t *testing.T, e Event) string {
	t.Helper()
	b, err := Bytes(e)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	return string(b)
}

// unfold undoes fold (RFC 5545 3.1) and returns the content lines.
func unfold(s string) []string {
	return strings.Split(strings.TrimSuffix(strings.ReplaceAll(s, "\r\n ", ""), "\r\n"), "\r\n")
}

func TestFoldKeepsLinesWithin75OctetsAndRunesWhole(t *testing.T) {
	line := "DESCRIPTION:" + persian + persian
	folded := fold(line)
	if !strings.HasSuffix(folded, "\r\n") {
		t.Fatalf("folded line does not end in CRLF: %q", folded)
	}
	lines := strings.Split(strings.TrimSuffix(folded, "\r\n"), "\r\n")
	if len(lines) < 5 {
		t.Fatalf("expected a long Persian line to fold several times, got %d lines", len(lines))
	}
	for i, l := range lines {
		if len(l) > maxLine {
			t.Errorf("line %d has %d octets: %q", i, len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("line %d is cut inside a rune: %q", i, l)
		}
		if i > 0 && !strings.HasPrefix(l, " ") {
			t.Errorf("continuation line %d does not start with a space: %q", i, l)
		}
	}
	if got := unfold(folded); len(got) != 1 || got[0] != line {
		t.Errorf("unfolded text differs from the original:\n got %q\nwant %q", got, line)
	}
}

func TestFoldLeavesLinesOf75OctetsAlone(t *testing.T) {
	line := strings.Repeat("a", maxLine)
	if got := fold(line); got != line+"\r\n" {
		t.Errorf("fold(75 octets) = %q", got)
	}
	if got := fold(line + "b"); got != line+"\r\n b\r\n" {
		t.Errorf("fold(76 octets) = %q", got)
	}
}

func TestEscapeTextEscapesDelimitersAndLineBreaks(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`a;b,c\d`, `a\;b\,c\\d`},
		{"line1\nline2", `line1\nline2`},
		{"line1\r\nline2\rline3", `line1\nline2\nline3`},
		{"tab\tand bell\a", "tab\tand bell"},
		{"خیابان ۱۲، پلاک ۳؛ طبقه دوم", "خیابان ۱۲، پلاک ۳؛ طبقه دوم"}, // Persian comma and semicolon are not delimiters
		{`:"quoted":`, `:"quoted":`},
	} {
		if got := escapeText(c.in); got != c.want {
			t.Errorf("escapeText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestWriteEndsEveryLineWithCRLFAndFolds(t *testing.T) {
	e := appointment(t, "Asia/Tokyo", time.Date(2026, 3, 10, 0, 30, 0, 0, time.UTC))
	e.Description = persian
	out := mustWrite(t, e)
	if !strings.HasSuffix(out, "END:VCALENDAR\r\n") {
		t.Errorf("output does not end with END:VCALENDAR CRLF")
	}
	for i, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i, l)
		}
		if len(l) > maxLine || !utf8.ValidString(l) {
			t.Errorf("line %d is too long or cut inside a rune: %q", i, l)
		}
	}
	if !strings.Contains(out, "\r\nDESCRIPTION:"+escapeText(persian)[:40]) {
		t.Errorf("description not written:\n%s", out)
	}
}

func TestWriteWritesTimesInTheMissionsWallClock(t *testing.T) {
	out := mustWrite(t, appointment(t, "Asia/Tokyo", time.Date(2026, 3, 10, 0, 30, 0, 0, time.UTC)))
	lines := unfold(out)
	for _, want := range []string{
		"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:" + ProdID, "METHOD:REQUEST",
		"BEGIN:VTIMEZONE", "TZID:Asia/Tokyo",
		"DTSTART;TZID=Asia/Tokyo:20260310T093000",
		"DTEND;TZID=Asia/Tokyo:20260310T100000",
		"DTSTAMP:20260201T080000Z",
		"UID:4821-7730-9152-06-1@consular.example",
		"SEQUENCE:1",
		`SUMMARY:Consular appointment 4821-7730-9152-06 / نوبت کنسولی`,
		`LOCATION:Embassy\, 1-2-3 Example\, Tokyo`,
		"ORGANIZER:mailto:appointments@consular.example",
		"STATUS:CONFIRMED",
		"TRIGGER:-PT24H",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("missing line %q in\n%s", want, out)
		}
	}
}

func TestCancellationHasMethodCancelAndStatusCancelled(t *testing.T) {
	e := appointment(t, "Asia/Tokyo", time.Date(2026, 3, 10, 0, 30, 0, 0, time.UTC))
	e.Cancelled, e.Sequence = true, 2
	lines := unfold(mustWrite(t, e))
	for _, want := range []string{"METHOD:CANCEL", "STATUS:CANCELLED", "SEQUENCE:2", "UID:" + e.UID} {
		if !slices.Contains(lines, want) {
			t.Errorf("missing line %q", want)
		}
	}
	if slices.Contains(lines, "BEGIN:VALARM") {
		t.Errorf("a cancelled appointment still has an alarm")
	}
	if got := e.ContentType(); got != "text/calendar; charset=UTF-8; method=CANCEL" {
		t.Errorf("content type %q", got)
	}
}

func TestZonesWithoutDSTHaveOneStandardObservance(t *testing.T) {
	for _, c := range []struct{ zone, offset string }{
		{"Asia/Tokyo", "+0900"},
		{"Asia/Tehran", "+0330"},
		{"Asia/Kabul", "+0430"},
		{"UTC", "+0000"},
	} {
		start := time.Date(2026, 6, 15, 6, 0, 0, 0, time.UTC)
		obs := observances(mustLoad(t, c.zone), start, start.Add(time.Hour))
		if len(obs) != 1 {
			t.Errorf("%s: %d observances, want 1: %+v", c.zone, len(obs), obs)
			continue
		}
		o := obs[0]
		if o.daylight || o.rrule != "" || utcOffset(o.from) != c.offset || utcOffset(o.to) != c.offset {
			t.Errorf("%s: observance %+v, want STANDARD %s", c.zone, o, c.offset)
		}
	}
}

func TestViennaHasYearlyCESTAndCETRules(t *testing.T) {
	start := time.Date(2026, 7, 15, 7, 30, 0, 0, time.UTC)
	out := mustWrite(t, appointment(t, "Europe/Vienna", start))
	want := strings.Join([]string{
		"BEGIN:VTIMEZONE",
		"TZID:Europe/Vienna",
		"X-LIC-LOCATION:Europe/Vienna",
		"BEGIN:DAYLIGHT",
		"DTSTART:20250330T020000",
		"TZOFFSETFROM:+0100",
		"TZOFFSETTO:+0200",
		"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
		"TZNAME:CEST",
		"END:DAYLIGHT",
		"BEGIN:STANDARD",
		"DTSTART:20251026T030000",
		"TZOFFSETFROM:+0200",
		"TZOFFSETTO:+0100",
		"RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
		"TZNAME:CET",
		"END:STANDARD",
		"END:VTIMEZONE",
	}, "\r\n")
	if !strings.Contains(out, want) {
		t.Errorf("VTIMEZONE for Europe/Vienna:\n%s\nwant\n%s", out, want)
	}
	if !strings.Contains(out, "DTSTART;TZID=Europe/Vienna:20260715T093000\r\n") {
		t.Errorf("July 07:30Z is not 09:30 CEST:\n%s", out)
	}
}

func TestIrregularZonesListEachChange(t *testing.T) {
	// Tehran dropped DST in 2022 and Casablanca moves its clock around
	// Ramadan: neither fits a yearly rule, so every change is written out.
	for _, c := range []struct {
		zone  string
		start time.Time
	}{
		{"Asia/Tehran", time.Date(2022, 6, 15, 5, 0, 0, 0, time.UTC)},
		{"Africa/Casablanca", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
	} {
		loc := mustLoad(t, c.zone)
		obs := observances(loc, c.start, c.start.Add(time.Hour))
		if len(obs) < 3 {
			t.Errorf("%s: %d observances, want the changes one by one: %+v", c.zone, len(obs), obs)
		}
		// The last observance starting before the appointment must carry
		// the offset Go gives for it.
		var current observance
		for _, o := range obs {
			if o.rrule != "" {
				t.Errorf("%s: unexpected RRULE %q", c.zone, o.rrule)
			}
			if !o.start.Add(-time.Duration(o.from) * time.Second).After(c.start) {
				current = o
			}
		}
		if _, want := c.start.In(loc).Zone(); current.to != want {
			t.Errorf("%s: offset in effect %s, want %s", c.zone, utcOffset(current.to), utcOffset(want))
		}
	}
}

func TestWriteRefusesEventsACalendarCannotPlace(t *testing.T) {
	good := appointment(t, "Asia/Tokyo", time.Date(2026, 3, 10, 0, 30, 0, 0, time.UTC))
	for name, change := range map[string]func(*Event){
		"no UID":            func(e *Event) { e.UID = " " },
		"no location":       func(e *Event) { e.Location = nil },
		"server local zone": func(e *Event) { e.Location = time.Local },
		"end before start":  func(e *Event) { e.End = e.Start.Add(-time.Minute) },
		"organizer header":  func(e *Event) { e.Organizer = "a@b.example\r\nX-EVIL:1" },
	} {
		e := good
		change(&e)
		var b bytes.Buffer
		if err := Write(&b, e); err == nil || b.Len() != 0 {
			t.Errorf("%s: err %v, wrote %d bytes", name, err, b.Len())
		}
	}
}

func TestUTCOffsetFormatsSignHoursMinutesAndSeconds(t *testing.T) {
	for in, want := range map[int]string{0: "+0000", 12600: "+0330", 16200: "+0430", -10800: "-0300", 3661: "+010101"} {
		if got := utcOffset(in); got != want {
			t.Errorf("utcOffset(%d) = %q, want %q", in, got, want)
		}
	}
}

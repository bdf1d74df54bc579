package main

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	ptime "github.com/yaa110/go-persian-calendar"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/testenv"
)

// calendarFixture is a request waiting for an appointment at AT-VIE whose
// first open day is full and whose third open day has its first time
// full: the days (2006-01-02 in Vienna) and that time.
type calendarFixture struct {
	id, code            string
	full, free, partial string
	taken               time.Time // the full time on the partial day
	firstFree           time.Time // the first time of the first free day
}

// fillSeats makes the given times full: every seat booked.
func (s *system) fillSeats(times ...time.Time) {
	s.t.Helper()
	for _, at := range times {
		if _, err := s.db.Exec(context.Background(), `INSERT INTO slot_seats (mission_code, starts_at, capacity, booked)
			VALUES ('AT-VIE', $1, 99, 99) ON CONFLICT (mission_code, starts_at) DO UPDATE SET capacity = 99, booked = 99`, at); err != nil {
			s.t.Fatal(err)
		}
	}
}

func newCalendarFixture(t *testing.T, s *system) calendarFixture {
	t.Helper()
	f := calendarFixture{id: testenv.NationalID()}
	f.code = s.quickRequest(f.id)
	s.waitStatus(f.code, "awaiting_appointment", 30*time.Second)
	vienna := mustZone(t, "Europe/Vienna")
	byDay := map[string][]time.Time{}
	var days []string
	for _, v := range s.freeSlots(f.id, f.code) {
		at, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t.Fatal(err)
		}
		day := at.In(vienna).Format("2006-01-02")
		if len(byDay[day]) == 0 {
			days = append(days, day)
		}
		byDay[day] = append(byDay[day], at)
	}
	if len(days) < 3 {
		t.Fatalf("%d open days, want at least 3", len(days))
	}
	f.full, f.free, f.partial = days[0], days[1], days[2]
	s.fillSeats(byDay[f.full]...)
	f.taken, f.firstFree = byDay[f.partial][0], byDay[f.free][0]
	s.fillSeats(f.taken)
	return f
}

// proveAs finds the request on /appointments in lang and lands on the calendar.
func (f calendarFixture) proveAs(t *testing.T, s *system, lang string) *applicant {
	t.Helper()
	a := newApplicant(t, s)
	a.get("/lang/" + lang + "?next=/appointments")
	a.post("/appointments", map[string]string{"national_id": f.id, "tracking_code": f.code})
	if a.status != http.StatusOK || !strings.Contains(a.page, `action="/appointments/book"`) {
		t.Fatalf("no calendar after proving the request: %d\n%.3000s", a.status, a.page)
	}
	return a
}

// dayBlock is the HTML of one day of the calendar: a full day's div or a
// free day's details element.
func dayBlock(t *testing.T, page, day string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<(div|details) class="day[^"]*" id="day-` + day + `".*?</(div|details)>\s*(<div class="day|<details|</fieldset>\s*<div class="actions")`).FindString(page)
	if m == "" {
		t.Fatalf("no day %s on the calendar:\n%.4000s", day, page)
	}
	return m
}

var openDay = regexp.MustCompile(`<details class="day" id="day-([0-9-]+)" name="day" open>`)

// The calendar names each day with its weekday (in Persian the Solar Hijri
// date with the Gregorian beside it), lists a full day as full with nothing
// to choose, opens the first day with a free time, groups the times by
// morning and afternoon with the seats left, and names the mission's city
// for its time zone. It is plain HTML: the form posts without script.
func TestBookingCalendarNamesDaysAndMarksFullOnes(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	f := newCalendarFixture(t, s)
	vienna := mustZone(t, "Europe/Vienna")
	fullDay, _ := time.ParseInLocation("2006-01-02", f.full, vienna)

	a := f.proveAs(t, s, "en")
	a.want(http.StatusOK, "Times are local time in Vienna.", "Morning", " free</span></summary>")
	full := dayBlock(t, a.page, f.full)
	if !strings.Contains(full, `class="day full"`) || !strings.Contains(full, "Full") ||
		!strings.Contains(full, "<strong>"+fullDay.Weekday().String()+"</strong> "+fullDay.Format("2 January")) {
		t.Errorf("the full day is not listed by weekday and date and marked full:\n%s", full)
	}
	if strings.Contains(full, "<input") {
		t.Errorf("the full day offers a time to choose:\n%s", full)
	}
	// No radio anywhere on the page is a time of the full day.
	for _, m := range regexp.MustCompile(`<input type="radio" name="starts_at" id="[^"]+" value="([^"]+)"`).FindAllStringSubmatch(a.page, -1) {
		at, err := time.Parse(time.RFC3339, html.UnescapeString(m[1])) // html/template writes + as &#43;
		if err != nil {
			t.Fatalf("a radio's value is not a time: %v", err)
		}
		if at.In(vienna).Format("2006-01-02") == f.full {
			t.Errorf("a time of the full day is offered: %s", m[1])
		}
	}
	if open := openDay.FindAllStringSubmatch(a.page, -1); len(open) != 1 || open[0][1] != f.free {
		t.Errorf("open days %v, want only the first free day %s", open, f.free)
	}
	partial := dayBlock(t, a.page, f.partial)
	if !regexp.MustCompile(`value="`+regexp.QuoteMeta(strings.ReplaceAll(f.taken.In(vienna).Format(time.RFC3339), "+", "&#43;"))+`" disabled>`).MatchString(partial) ||
		!strings.Contains(partial, "Taken") || !strings.Contains(partial, " left</span>") {
		t.Errorf("the taken time is not shown taken and disabled beside the free ones with their seats:\n%s", partial)
	}
	if !strings.Contains(a.page, `<fieldset class="period">`) || !strings.Contains(a.page, `<legend>Morning</legend>`) {
		t.Error("the times are not grouped in fieldsets by morning and afternoon")
	}

	// ?day= opens another day, for a link that works without script.
	a.get("/appointments/slots?day=" + f.partial)
	if open := openDay.FindAllStringSubmatch(a.page, -1); len(open) != 1 || open[0][1] != f.partial {
		t.Errorf("with ?day=%s the open days are %v", f.partial, open)
	}

	// In Persian: the weekday, the Solar Hijri day and month, and the
	// Gregorian date beside it, in Persian digits.
	fa := f.proveAs(t, s, "fa")
	catalogue, err := web.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	j := ptime.New(fullDay)
	persianFull := dayBlock(t, fa.page, f.full)
	for _, want := range []string{
		"<strong>" + catalogue.T("fa", "weekday."+strconv.Itoa((int(fullDay.Weekday())+6)%7+1)) + "</strong>",
		j.Month().String(), persianDigits(j.Day()) + " " + j.Month().String(),
		`<span class="beside">` + persianDigits(fullDay.Day()) + " ",
		"تکمیل است",
	} {
		if !strings.Contains(persianFull, want) {
			t.Errorf("the Persian full day lacks %q:\n%s", want, persianFull)
		}
	}
	fa.want(http.StatusOK, "به وقت محلی وین", "<legend>صبح</legend>")
}

func persianDigits(n int) string {
	s := []rune(time.Date(2000, 1, n, 0, 0, 0, 0, time.UTC).Format("2"))
	for i, r := range s {
		s[i] = '۰' + (r - '0')
	}
	return string(s)
}

// A refused booking (the time was taken meanwhile) comes back to the
// calendar with the reason and the chosen day open; a plain form post of a
// free time then books it, with no script involved, and the booked page
// says how to reach the mission.
func TestRefusedBookingReopensTheChosenDayWithTheReason(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	f := newCalendarFixture(t, s)
	vienna := mustZone(t, "Europe/Vienna")
	a := f.proveAs(t, s, "en")

	a.post("/appointments/book", map[string]string{"starts_at": f.taken.In(vienna).Format(time.RFC3339)})
	a.want(http.StatusConflict, "This time has just been taken; choose another.", `id="starts_at-error"`)
	if open := openDay.FindAllStringSubmatch(a.page, -1); len(open) != 1 || open[0][1] != f.partial {
		t.Errorf("after the refusal the open days are %v, want the chosen day %s", open, f.partial)
	}
	if !strings.Contains(a.page, `<fieldset id="starts_at" class="days invalid" aria-describedby="starts_at-error">`) {
		t.Error("the calendar's fieldset is not marked invalid and described by the reason")
	}

	a.post("/appointments/book", map[string]string{"starts_at": f.firstFree.In(vienna).Format(time.RFC3339)})
	a.want(http.StatusOK, `<p class="when" id="appointment">`+f.firstFree.In(vienna).Format("Monday 2 January 2006, 15:04")+`</p>`,
		`id="mission-page"`, `href="/missions/AT-VIE"`, "Jaurèsgasse 9, 1030 Wien")
	s.waitStatus(f.code, "appointment_booked", 10*time.Second)

	// Back on the calendar to move it: the booked time is shown as the
	// applicant's own, not offered again.
	a.get("/appointments/slots")
	mine := `<div class="time mine"><input type="radio" name="starts_at" id="slot-` + strconv.FormatInt(f.firstFree.Unix(), 10) + `" value="[^"]+" disabled>\s*<label[^>]*><span class="clock">[^<]+</span> <span class="seats">Your appointment</span>`
	if !regexp.MustCompile(mine).MatchString(a.page) {
		t.Errorf("the booked time is not shown as the applicant's own:\n%s", dayBlock(t, a.page, f.free))
	}
}

// The emails a request brings and its receipt say how to reach its
// mission: the address missions.json knows and the mission's page on the
// portal, in the footer of every email and beside the receipt's QR code.
func TestEmailsAndReceiptSayHowToReachTheMission(t *testing.T) {
	s := startSystem(t, nil)
	id := testenv.NationalID()
	code := s.quickRequest(id)
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	slots := s.freeSlots(id, code)
	if status, out := s.appointmentCall("POST", "/", map[string]any{"national_id": id, "tracking_code": code, "starts_at": slots[0]}); status != 200 {
		t.Fatalf("book: %d %v", status, out)
	}
	mp := testenv.Mail(t)
	msgs := mp.WaitFor(t, "to:"+code+"@example.org", 2, 15*time.Second)
	page := s.url + "/missions/AT-VIE"
	receipts := 0
	for _, m := range msgs {
		text := strings.ReplaceAll(m.Text, "\r\n", "\n")
		for _, want := range []string{"Embassy of the Islamic Republic of Iran in Vienna\nAddress: Jaurèsgasse 9, 1030 Wien\nThe mission's page: " + page,
			"نشانی: Jaurèsgasse 9, 1030 Wien\nصفحهٔ نمایندگی: " + page} {
			if !strings.Contains(text, want) {
				t.Errorf("the email %q lacks the mission's footer %q:\n%s", m.Subject, want, text)
			}
		}
		for _, a := range m.Attachments {
			if a.ContentType != "application/pdf" {
				continue
			}
			receipts++
			cmd := exec.Command("pdftotext", "-", "-")
			cmd.Stdin = bytes.NewReader(mp.Attachment(t, m.ID, a.PartID))
			pdf, err := cmd.Output()
			if err != nil {
				t.Fatalf("pdftotext: %v", err)
			}
			for _, want := range []string{"Contact the mission", "Address: Jaurèsgasse 9, 1030 Wien", s.url + "/missions/"} {
				if !strings.Contains(string(pdf), want) {
					t.Errorf("the receipt lacks %q:\n%s", want, pdf)
				}
			}
		}
	}
	if receipts != 1 {
		t.Errorf("%d receipts attached to the emails, want 1", receipts)
	}
}

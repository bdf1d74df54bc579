package booking

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	ptime "github.com/yaa110/go-persian-calendar"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/appointments"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/i18n"
)

// Pages are the appointment system in the browser; no account needed. The
// applicant proves the request with national ID, tracking code and captcha;
// the session then remembers it for the next few pages.
type Pages struct {
	Booker   *appointments.Booker
	Render   *web.Renderer
	Sessions *web.Sessions
	Captchas *web.Captchas
	Limits   *web.Limiter // the lost-receipt page's, per address and per IP
	// LinkKey checks the signed links of confirmation emails.
	LinkKey []byte
	// Receipts resends a lost receipt (nil: the page is not offered).
	Receipts func(ctx context.Context, trackingCode, email string) error
}

// Register mounts the pages; site has the session and security middleware.
func (p *Pages) Register(site fiber.Router) {
	site.Get("/appointments", p.findForm)
	site.Post("/appointments", p.find)
	site.Get("/appointments/slots", p.slots)
	site.Post("/appointments/book", p.book)
	site.Post("/appointments/cancel", p.cancel)
	site.Get("/receipt/lost", p.lostForm)
	site.Post("/receipt/lost", p.lost)
	site.Get("/withdraw", p.withdrawForm)
	site.Post("/withdraw", p.withdraw)
}

// findData is the page that asks for national ID and tracking code.
type findData struct {
	CaptchaID string
	Action    string
	Confirm   bool // withdrawal asks to confirm
}

func (p *Pages) page(c *fiber.Ctx, title string, data any) *web.Page {
	return p.Render.PageFor(c, title, data, p.Sessions.Idle)
}

func (p *Pages) renderFind(c *fiber.Ctx, status int, action, title string, form *web.Form, notice string) error {
	id, err := p.Captchas.New(c.UserContext())
	if err != nil {
		return err
	}
	pg := p.page(c, title, &findData{CaptchaID: id, Action: action, Confirm: action == "/withdraw"})
	pg.Form, pg.Notice = form, notice
	return p.Render.Render(c, status, "find", pg)
}

func (p *Pages) findForm(c *fiber.Ctx) error {
	form := web.NewForm()
	notice := ""
	if t := c.Query("t"); t != "" { // a signed link from a confirmation email names the request
		if code, ok := consular.VerifyLink(p.LinkKey, t, time.Now()); ok {
			form.Values["tracking_code"] = code
		} else {
			notice = "booking.link_expired"
		}
	}
	return p.renderFind(c, fiber.StatusOK, "/appointments", "booking.find.title", form, notice)
}

// check reads national ID, tracking code and captcha and finds the request;
// every failure shows the same message, beside the form as typed.
func (p *Pages) check(c *fiber.Ctx, action, title string) (appointments.Request, error, bool) {
	ctx := c.UserContext()
	form := web.NewForm()
	nationalID, code := strings.TrimSpace(c.FormValue("national_id")), strings.TrimSpace(c.FormValue("tracking_code"))
	form.Values["national_id"], form.Values["tracking_code"] = nationalID, code
	if !p.Captchas.Verify(ctx, c.FormValue("captcha_id"), c.FormValue("captcha")) {
		form.Fail("captcha", "error.captcha")
		return appointments.Request{}, p.renderFind(c, fiber.StatusUnprocessableEntity, action, title, form, ""), false
	}
	if action == "/withdraw" && c.FormValue("confirm") != "yes" {
		form.Fail("confirm", "booking.withdraw.confirm_needed")
		return appointments.Request{}, p.renderFind(c, fiber.StatusUnprocessableEntity, action, title, form, ""), false
	}
	r, err := p.Booker.Find(ctx, nationalID, code, c.IP())
	if answer, ok := web.AnswerFor(err, false); ok {
		answer.Fail(form, "tracking_code")
	} else if err != nil {
		return r, err, false
	}
	if !form.OK() {
		return r, p.renderFind(c, fiber.StatusUnprocessableEntity, action, title, form, ""), false
	}
	// Proved: this browser may now see and change the request's
	// appointment, so it gets a new session ID (one planted before is
	// worth nothing), and the session keeps the tracking code only. The
	// national ID stays out of it: the row is server-side, keyed by a
	// secret, and ends with the session's idle and absolute limits.
	if err := p.Sessions.Renew(c); err != nil {
		return r, err, false
	}
	s := web.Current(c)
	s.Set("booking_code", r.TrackingCode)
	s.Set("booking_national_id", "") // kept by versions before this one
	return r, nil, true
}

func (p *Pages) find(c *fiber.Ctx) error {
	if _, err, ok := p.check(c, "/appointments", "booking.find.title"); !ok {
		return err
	}
	return c.Redirect("/appointments/slots", fiber.StatusSeeOther)
}

// current is the request this browser proved a moment ago (check), found
// by its tracking code alone: the proof is the session itself, which ends
// with its idle and absolute limits. A request whose applicant's data has
// been purged meanwhile is not found.
func (p *Pages) current(c *fiber.Ctx) (appointments.Request, bool, error) {
	code := web.Current(c).Get("booking_code")
	if code == "" {
		return appointments.Request{}, false, nil
	}
	r, err := p.Booker.Load(c.UserContext(), code, "")
	if errors.Is(err, appointments.ErrNoMatch) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("find proved request: %w", err)
	}
	return r, true, nil
}

type slotsData struct {
	Request appointments.Request
	Days    []calendarDay
	Booked  *appointments.Appointment
	Open    bool   // the request can book or change
	Error   string // why the chosen time was not booked, beside the calendar
}

// When is the booked appointment as the applicant reads it: weekday, date
// (in Persian the Solar Hijri one with the Gregorian beside it) and time,
// in the mission's zone.
func (d *slotsData) When(pg *web.Page) string {
	if d.Booked == nil {
		return ""
	}
	t := d.Booked.StartsAt
	if d.Request.Location != nil {
		t = t.In(d.Request.Location)
	}
	day := newCalendarDay(t, pg)
	date := day.Weekday + " " + day.Date
	if pg.Lang == i18n.Persian {
		date += " " + pg.Num(ptime.New(t).Year()) + " (" + day.Beside + " " + pg.Num(t.Year()) + ")"
	} else {
		date += " " + strconv.Itoa(t.Year())
	}
	return pg.T("booking.cal.when", date, pg.Clock(t))
}

// daysShown is how many days with a free time the calendar offers; the full
// days between them are shown too, as full.
const daysShown = 10

func (p *Pages) slots(c *fiber.Ctx) error {
	r, ok, err := p.current(c)
	if err != nil {
		return err
	}
	if !ok {
		return c.Redirect("/appointments", fiber.StatusSeeOther)
	}
	return p.renderSlots(c, fiber.StatusOK, r, web.NewForm(), "")
}

// renderSlots shows the calendar. The day open is the one of the time the
// applicant chose (a refused booking comes back to it), else the one named
// by ?day= (a link that works without script), else the first with a free
// time.
func (p *Pages) renderSlots(c *fiber.Ctx, status int, r appointments.Request, form *web.Form, notice string) error {
	data := &slotsData{Request: r, Open: r.Bookable()}
	pg := p.page(c, "booking.slots.title", data)
	pg.Form, pg.Notice = form, notice
	if data.Open {
		data.Booked = r.Appointment
		slots, err := p.Booker.Calendar(c.UserContext(), r)
		if err != nil {
			return err
		}
		var booked time.Time
		if r.Appointment != nil {
			booked = r.Appointment.StartsAt
		}
		data.Days = calendarOf(slots, r.Location, pg, booked, form.Values["starts_at"], c.Query("day"))
	}
	if key := form.Errors["starts_at"]; key != "" {
		data.Error = pg.T(key, form.Args["starts_at"]...)
	}
	return p.Render.Render(c, status, "slots", pg)
}

// calendarDay is one day of the mission's calendar as the applicant reads
// it: its weekday and date in the page's calendar (the Solar Hijri date
// with the Gregorian beside it on a Persian page), its times in the
// morning and in the afternoon, and whether any is free.
type calendarDay struct {
	ID      string // 2006-01-02 in the mission's zone: the ?day= value and the element's id
	Weekday string
	Date    string // ۱۳ آذر; 3 December
	Beside  string // the Gregorian date on a Persian page (۳ دسامبر), else empty
	Free    int    // times with a seat left
	Open    bool
	Periods []calendarPeriod
}

// Full says the day has times but none with a seat left.
func (d calendarDay) Full() bool { return d.Free == 0 }

// calendarPeriod is a day's morning or afternoon.
type calendarPeriod struct {
	Key   string // message key of its name
	Times []calendarTime
}

type calendarTime struct {
	ID      string // the radio's id
	Value   string // what the form posts: the start in RFC 3339
	Start   time.Time
	End     time.Time
	Free    int
	Checked bool
	Mine    bool // the applicant's booked appointment: shown, not offered again
}

// calendarOf groups slots (free and full, in order) into local days of loc:
// up to daysShown days with a free time and the full days between them.
// booked is the request's appointment (zero: none), chosen the time the
// applicant posted, day a ?day= value.
func calendarOf(slots []appointments.Slot, loc *time.Location, pg *web.Page, booked time.Time, chosen, day string) []calendarDay {
	var days []calendarDay
	for _, s := range slots {
		start, end := s.Start.In(loc), s.End.In(loc)
		if n := len(days); n == 0 || days[n-1].ID != start.Format("2006-01-02") {
			days = append(days, newCalendarDay(start, pg))
		}
		d := &days[len(days)-1]
		period := "booking.cal.morning"
		if start.Hour() >= 12 {
			period = "booking.cal.afternoon"
		}
		if n := len(d.Periods); n == 0 || d.Periods[n-1].Key != period {
			d.Periods = append(d.Periods, calendarPeriod{Key: period})
		}
		value := start.Format(time.RFC3339)
		t := calendarTime{ID: "slot-" + strconv.FormatInt(start.Unix(), 10), Value: value, Start: start, End: end, Free: s.Free,
			Mine: !booked.IsZero() && start.Equal(booked)}
		if s.Free > 0 && !t.Mine {
			d.Free++
			t.Checked = sameInstant(value, chosen)
		}
		ps := &d.Periods[len(d.Periods)-1]
		ps.Times = append(ps.Times, t)
	}
	// Up to the daysShown-th day with a free time; full days after the last
	// free one would only add noise.
	withFree, last := 0, -1
	for i := range days {
		if !days[i].Full() {
			withFree, last = withFree+1, i
			if withFree == daysShown {
				break
			}
		}
	}
	days = days[:last+1]
	open := -1
	if t, err := time.Parse(time.RFC3339, chosen); err == nil {
		open = dayIndex(days, t.In(loc).Format("2006-01-02"))
	}
	if open < 0 && day != "" {
		open = dayIndex(days, day)
	}
	if open < 0 || days[open].Full() {
		open = -1
		for i := range days {
			if !days[i].Full() {
				open = i
				break
			}
		}
	}
	if open >= 0 {
		days[open].Open = true
	}
	return days
}

func dayIndex(days []calendarDay, id string) int {
	for i, d := range days {
		if d.ID == id {
			return i
		}
	}
	return -1
}

// sameInstant compares two RFC 3339 times, whatever their zones.
func sameInstant(a, b string) bool {
	ta, err1 := time.Parse(time.RFC3339, a)
	tb, err2 := time.Parse(time.RFC3339, b)
	return err1 == nil && err2 == nil && ta.Equal(tb)
}

// newCalendarDay names a local day in the page's language.
func newCalendarDay(t time.Time, pg *web.Page) calendarDay {
	d := calendarDay{ID: t.Format("2006-01-02")}
	iso := (int(t.Weekday())+6)%7 + 1 // the catalogue's weekday.1 is Monday
	d.Weekday = pg.T("weekday." + strconv.Itoa(iso))
	gregorian := pg.Num(t.Day()) + " " + pg.T(fmt.Sprintf("booking.cal.month.%02d", int(t.Month())))
	if pg.Lang == i18n.Persian {
		j := ptime.New(t)
		d.Date = pg.Num(j.Day()) + " " + j.Month().String()
		d.Beside = gregorian
	} else {
		d.Date = gregorian
	}
	return d
}

// book books the chosen slot, or moves the booked appointment to it.
func (p *Pages) book(c *fiber.Ctx) error {
	r, ok, err := p.current(c)
	if err != nil {
		return err
	}
	if !ok {
		return c.Redirect("/appointments", fiber.StatusSeeOther)
	}
	form := web.NewForm()
	form.Values["starts_at"] = strings.Clone(c.FormValue("starts_at")) // a refusal reopens its day
	at, perr := time.Parse(time.RFC3339, form.Values["starts_at"])
	if perr != nil {
		form.Fail("starts_at", "booking.choose_slot")
		return p.renderSlots(c, fiber.StatusUnprocessableEntity, r, form, "")
	}
	if r.Appointment == nil {
		_, err = p.Booker.Book(c.UserContext(), r, at)
	} else {
		_, err = p.Booker.Reschedule(c.UserContext(), r, at)
	}
	if answer, ok := web.AnswerFor(err, false); ok && answer.Status >= 400 {
		answer.Fail(form, "starts_at")
		return p.renderSlots(c, answer.Status, r, form, "")
	}
	if err != nil && !errors.Is(err, appointments.ErrPending) {
		return err
	}
	r, _, err = p.current(c)
	if err != nil {
		return err
	}
	pg := p.page(c, "booking.booked.title", &slotsData{Request: r, Booked: r.Appointment})
	if r.Appointment == nil {
		pg.Notice = "booking.pending"
	}
	return p.Render.Render(c, fiber.StatusOK, "booked", pg)
}

func (p *Pages) cancel(c *fiber.Ctx) error {
	r, ok, err := p.current(c)
	if err != nil {
		return err
	}
	if !ok {
		return c.Redirect("/appointments", fiber.StatusSeeOther)
	}
	err = p.Booker.Cancel(c.UserContext(), r)
	if answer, ok := web.AnswerFor(err, false); ok {
		form := web.NewForm()
		answer.Fail(form, "starts_at")
		return p.renderSlots(c, answer.Status, r, form, "")
	}
	if err != nil {
		return err
	}
	r, _, err = p.current(c)
	if err != nil {
		return err
	}
	return p.renderSlots(c, fiber.StatusOK, r, web.NewForm(), "booking.cancelled")
}

func (p *Pages) withdrawForm(c *fiber.Ctx) error {
	return p.renderFind(c, fiber.StatusOK, "/withdraw", "booking.withdraw.title", web.NewForm(), "")
}

// withdraw ends the request at the applicant's wish, after confirmation.
func (p *Pages) withdraw(c *fiber.Ctx) error {
	r, err, ok := p.check(c, "/withdraw", "booking.withdraw.title")
	if !ok {
		return err
	}
	err = p.Booker.Withdraw(c.UserContext(), r)
	if answer, ok := web.AnswerFor(err, false); ok {
		form := web.NewForm()
		answer.Fail(form, "tracking_code")
		return p.renderFind(c, answer.Status, "/withdraw", "booking.withdraw.title", form, "")
	}
	if err != nil {
		return err
	}
	pg := p.page(c, "booking.withdrawn.title", nil)
	pg.Notice = "booking.withdrawn"
	return p.Render.Render(c, fiber.StatusOK, "message", pg)
}

package booking

import (
	"context"
	"errors"
	"fmt"
	"github.com/openconsular/consular/internal/appointments"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/consular"
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

// Day is one local calendar day's free slots.
type Day struct {
	Date  time.Time
	Slots []appointments.Slot
}

type slotsData struct {
	Request appointments.Request
	Days    []Day
	Booked  *appointments.Appointment
	Open    bool // the request can book or change
}

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

func (p *Pages) renderSlots(c *fiber.Ctx, status int, r appointments.Request, form *web.Form, notice string) error {
	data := &slotsData{Request: r, Open: r.Bookable()}
	if data.Open {
		data.Booked = r.Appointment
	}
	if data.Open {
		slots, err := p.Booker.Slots(c.UserContext(), r)
		if err != nil {
			return err
		}
		for _, s := range slots {
			s.Start, s.End = s.Start.In(r.Location), s.End.In(r.Location)
			y, m, d := s.Start.Date()
			if n := len(data.Days); n == 0 || !sameDay(data.Days[n-1].Date, y, m, d) {
				if n == daysShown {
					break
				}
				data.Days = append(data.Days, Day{Date: time.Date(y, m, d, 12, 0, 0, 0, r.Location)})
			}
			data.Days[len(data.Days)-1].Slots = append(data.Days[len(data.Days)-1].Slots, s)
		}
	}
	pg := p.page(c, "booking.slots.title", data)
	pg.Form, pg.Notice = form, notice
	return p.Render.Render(c, status, "slots", pg)
}

func sameDay(t time.Time, y int, m time.Month, d int) bool {
	ty, tm, td := t.Date()
	return ty == y && tm == m && td == d
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
	at, perr := time.Parse(time.RFC3339, c.FormValue("starts_at"))
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

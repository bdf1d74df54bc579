package booking

import (
	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/appointments"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// API is /api/v1/appointments: the appointment system for a partner or a
// mobile client, with the same rules and limits as the pages (no captcha;
// the lookup limits apply per IP and per tracking code).
type API struct {
	Booker   *appointments.Booker
	Messages web.Catalogue
}

func (a *API) Register(r fiber.Router) {
	g := r.Group("/api/v1/appointments")
	g.Post("/lookup", a.lookup)
	g.Post("/", a.book)
	g.Put("/", a.reschedule)
	g.Delete("/", a.cancel)
}

// credentials identify a request: national ID and tracking code; starts_at
// names a slot when booking or rescheduling.
type credentials struct {
	NationalID   string    `json:"national_id"`
	TrackingCode string    `json:"tracking_code"`
	StartsAt     time.Time `json:"starts_at"`
}

// RequestView is a request as the appointment API shows it: no personal
// data, and of its state only whether it can be booked (appointments.Request.Bookable);
// a request that cannot shows no appointment and no slots.
type RequestView struct {
	TrackingCode string           `json:"tracking_code"`
	Bookable     bool             `json:"bookable"`
	Mission      string           `json:"mission"`
	TimeZone     string           `json:"time_zone"`
	Deadline     time.Time        `json:"deadline"`
	Appointment  *AppointmentView `json:"appointment,omitempty"`
	Slots        []SlotView       `json:"slots,omitempty"`
}

// AppointmentView and SlotView carry times in the mission's zone (RFC 3339 with its offset).
type AppointmentView struct {
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
}

type SlotView struct {
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	Free     int       `json:"free"`
}

func (a *API) find(c *fiber.Ctx) (appointments.Request, credentials, error) {
	var in credentials
	if err := c.BodyParser(&in); err != nil {
		return appointments.Request{}, in, fiber.NewError(fiber.StatusBadRequest, `send {"national_id": "...", "tracking_code": "..."}`)
	}
	r, err := a.Booker.Find(c.UserContext(), strings.Clone(in.NationalID), strings.Clone(in.TrackingCode), c.IP())
	return r, in, err
}

func (a *API) view(c *fiber.Ctx, r appointments.Request, withSlots bool) error {
	v := RequestView{TrackingCode: r.TrackingCode, Bookable: r.Bookable(), Mission: r.MissionCode,
		TimeZone: r.Location.String(), Deadline: r.Deadline.In(r.Location)}
	if !v.Bookable {
		return c.JSON(v)
	}
	if r.Appointment != nil {
		v.Appointment = &AppointmentView{StartsAt: r.Appointment.StartsAt, EndsAt: r.Appointment.EndsAt}
	}
	if withSlots {
		slots, err := a.Booker.Slots(c.UserContext(), r)
		if err != nil {
			return err
		}
		for _, s := range slots {
			v.Slots = append(v.Slots, SlotView{StartsAt: s.Start.In(r.Location), EndsAt: s.End.In(r.Location), Free: s.Free})
		}
	}
	return c.JSON(v)
}

func (a *API) lookup(c *fiber.Ctx) error {
	r, _, err := a.find(c)
	if err != nil {
		return a.answer(c, err)
	}
	return a.view(c, r, r.Appointment == nil || r.Appointment.StartsAt.After(time.Now()))
}

func (a *API) book(c *fiber.Ctx) error {
	return a.change(c, func(r appointments.Request, at time.Time) error {
		_, err := a.Booker.Book(c.UserContext(), r, at)
		return err
	})
}

func (a *API) reschedule(c *fiber.Ctx) error {
	return a.change(c, func(r appointments.Request, at time.Time) error {
		_, err := a.Booker.Reschedule(c.UserContext(), r, at)
		return err
	})
}

func (a *API) change(c *fiber.Ctx, do func(appointments.Request, time.Time) error) error {
	r, in, err := a.find(c)
	if err != nil {
		return a.answer(c, err)
	}
	if in.StartsAt.IsZero() {
		return fiber.NewError(fiber.StatusBadRequest, `send "starts_at", one of the slots from /api/v1/appointments/lookup`)
	}
	if err := do(r, in.StartsAt); err != nil {
		return a.answer(c, err)
	}
	if r, err = a.Booker.Load(c.UserContext(), r.TrackingCode, ""); err != nil {
		return err
	}
	return a.view(c, r, false)
}

func (a *API) cancel(c *fiber.Ctx) error {
	r, _, err := a.find(c)
	if err != nil {
		return a.answer(c, err)
	}
	if err := a.Booker.Cancel(c.UserContext(), r); err != nil {
		return a.answer(c, err)
	}
	if r, err = a.Booker.Load(c.UserContext(), r.TrackingCode, ""); err != nil {
		return err
	}
	return a.view(c, r, false)
}

// answer sends the booker's outcome as the appointment system's answer
// (AnswerFor): the same 404 for any mismatch, 429 when locked, 409 with
// the rule or a full slot.
func (a *API) answer(c *fiber.Ctx, err error) error {
	if answer, ok := web.AnswerFor(err, false); ok {
		return answer.JSON(c, a.Messages)
	}
	return err
}

package web

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/openconsular/consular/internal/appointments"
)

// Answer is what every door of the appointment system (the pages, the
// applicants' JSON API, the staff's JSON API) shows for an outcome of
// package appointments: an HTTP status and a message of the catalogues,
// the same words in each.
type Answer struct {
	Status int
	Key    string // message key
	Args   []any
	// Reason is the workflow's own words, naming the request's state: for
	// staff only (ForStaff).
	Reason string
}

// AnswerFor is the one table from the appointment system's errors to
// answers; ok is false for an error that is not an outcome (a failure: 500).
// An applicant never learns a request's state from a refusal (ErrClosed);
// staff read the workflow's reason.
func AnswerFor(err error, forStaff bool) (Answer, bool) {
	var locked appointments.LockedError
	var refused appointments.RefusedError
	switch {
	case errors.Is(err, appointments.ErrNoMatch):
		return Answer{Status: fiber.StatusNotFound, Key: "booking.no_match"}, true
	case errors.As(err, &locked):
		return Answer{Status: fiber.StatusTooManyRequests, Key: "error.rate_limited", Args: []any{locked.Until.UTC().Format("15:04 UTC")}}, true
	case errors.As(err, &refused) && refused.Broken.Rule != "":
		return Answer{Status: fiber.StatusConflict, Key: "booking.rule." + string(refused.Broken.Rule), Args: []any{refused.Broken.Limit}}, true
	case errors.As(err, &refused) && forStaff:
		return Answer{Status: fiber.StatusConflict, Key: "booking.refused", Args: []any{Literal(refused.Reason)}, Reason: refused.Reason}, true
	case errors.As(err, &refused), errors.Is(err, appointments.ErrClosed):
		return Answer{Status: fiber.StatusConflict, Key: "booking.closed"}, true
	case errors.Is(err, appointments.ErrSlotFull):
		return Answer{Status: fiber.StatusConflict, Key: "booking.slot_full"}, true
	case errors.Is(err, appointments.ErrInFlight):
		return Answer{Status: fiber.StatusConflict, Key: "booking.in_flight"}, true
	case errors.Is(err, appointments.ErrNoSlot):
		return Answer{Status: fiber.StatusUnprocessableEntity, Key: "booking.no_slot"}, true
	case errors.Is(err, appointments.ErrPending):
		return Answer{Status: fiber.StatusAccepted, Key: "booking.pending"}, true
	}
	return Answer{}, false
}

// JSON sends the answer as the JSON APIs' error body, in English and Persian.
func (a Answer) JSON(c *fiber.Ctx, messages Catalogue) error {
	return JSONError(c, a.Status, messages.T("en", a.Key, a.Args...), messages.T("fa", a.Key, a.Args...))
}

// Fail shows the answer beside field of form.
func (a Answer) Fail(form *Form, field string) {
	form.Fail(field, a.Key, a.Args...)
}

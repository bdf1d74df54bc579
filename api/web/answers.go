package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/openconsular/consular/internal/apiclients"
	"github.com/openconsular/consular/internal/appointments"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/submission"
	"github.com/openconsular/consular/workflows/request"
)

// Answer is what every door (the pages, the applicants' JSON API, the
// staff's JSON API) shows for a domain outcome: an HTTP status and a message
// of the catalogues, the same words in each.
type Answer struct {
	Status int
	Key    string // message key
	Args   []any
	// Reason is the workflow's own words, naming the request's state: for
	// staff only (ForStaff).
	Reason string
	// Problems name each field of an invalid application (422), for the
	// door to word beside its fields.
	Problems []consular.Problem
}

// AnswerFor is the one table from domain errors to answers: refused (the
// workflow's or the appointment rules' no: 409), not found (404, worded
// alike whether the request exists elsewhere or not), conflict (409),
// invalid (422 with the problems), unauthorised (401 and 403), and a
// request saved but not started (503). ok is false for an error that is not
// an outcome (a failure: 500). An applicant never learns a request's state
// from a refusal; staff read the workflow's reason.
func AnswerFor(err error, forStaff bool) (Answer, bool) {
	if err == nil {
		return Answer{}, false
	}
	if answer, ok := appointmentAnswer(err, forStaff); ok {
		return answer, true
	}
	var invalid *submission.Refused
	var closed *consular.ClosedError
	var refused *request.RefusedError
	var role *consular.RoleError
	var mission *consular.MissionError
	switch {
	case errors.As(err, &invalid):
		return Answer{Status: fiber.StatusUnprocessableEntity, Key: "submission.invalid", Problems: invalid.Problems}, true
	case errors.Is(err, submission.ErrNotStarted):
		return Answer{Status: fiber.StatusServiceUnavailable, Key: "error.try_again"}, true
	case errors.Is(err, consular.ErrNotFound):
		return Answer{Status: fiber.StatusNotFound, Key: "request.not_found"}, true
	case errors.Is(err, apiclients.ErrNotFound):
		return Answer{Status: fiber.StatusNotFound, Key: "error.not_found"}, true
	case errors.As(err, &closed) && forStaff:
		return Answer{Status: fiber.StatusConflict, Key: "request.closed", Args: []any{string(closed.Status)}}, true
	case errors.As(err, &refused) && forStaff:
		return Answer{Status: fiber.StatusConflict, Key: "request.refused", Args: []any{Literal(refused.Reason)}, Reason: refused.Reason}, true
	case errors.As(err, &closed), errors.As(err, &refused):
		return Answer{Status: fiber.StatusConflict, Key: "request.ended"}, true
	case errors.Is(err, consular.ErrUnauthenticated), errors.Is(err, apiclients.ErrUnknownToken):
		return Answer{Status: fiber.StatusUnauthorized, Key: "error.unauthenticated"}, true
	case errors.As(err, &role):
		return Answer{Status: fiber.StatusForbidden, Key: "error.role", Args: []any{role.Role, role.Action}}, true
	case errors.As(err, &mission):
		return Answer{Status: fiber.StatusForbidden, Key: "error.mission_scope", Args: []any{mission.Mission, strings.Join(mission.Allowed, ", ")}}, true
	}
	return Answer{}, false
}

// appointmentAnswer is the table's part for package appointments.
func appointmentAnswer(err error, forStaff bool) (Answer, bool) {
	var locked appointments.LockedError
	var refused appointments.RefusedError
	switch {
	case errors.Is(err, appointments.ErrNoMatch) && forStaff: // by tracking code at the member's mission
		return Answer{Status: fiber.StatusNotFound, Key: "request.not_found"}, true
	case errors.Is(err, appointments.ErrNoMatch):
		return Answer{Status: fiber.StatusNotFound, Key: "booking.no_match"}, true
	case errors.As(err, &locked):
		return Answer{Status: fiber.StatusTooManyRequests, Key: "error.rate_limited", Args: []any{locked.Until.UTC().Format("15:04 UTC")}}, true
	case errors.As(err, &refused) && refused.Broken.Rule.Appointment():
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

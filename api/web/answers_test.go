package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/openconsular/consular/internal/apiclients"
	"github.com/openconsular/consular/internal/appointments"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/submission"
	"github.com/openconsular/consular/workflows/request"
)

// Every domain outcome has one status and one message in both catalogues,
// found through wrapping; staff read the workflow's reason, applicants and
// clients never learn a request's state; a failure is no outcome (500).
func TestEveryDomainErrorHasOneAnswer(t *testing.T) {
	messages, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(err error) error { return fmt.Errorf("in a handler: %w", err) }
	for _, c := range []struct {
		err      error
		forStaff bool
		status   int
		key      string
	}{
		{&submission.Refused{Problems: []consular.Problem{{Field: "licence_number", Reason: consular.ReasonRequired}}}, false, 422, "submission.invalid"},
		{submission.ErrNotStarted, false, 503, "error.try_again"},
		{consular.ErrNotFound, true, 404, "request.not_found"},
		{appointments.ErrNoMatch, true, 404, "request.not_found"},
		{appointments.ErrNoMatch, false, 404, "booking.no_match"},
		{apiclients.ErrNotFound, true, 404, "error.not_found"},
		{&consular.ClosedError{Status: consular.StatusArchived}, true, 409, "request.closed"},
		{&consular.ClosedError{Status: consular.StatusArchived}, false, 409, "request.ended"},
		{&request.RefusedError{Reason: "the request is attended"}, true, 409, "request.refused"},
		{&request.RefusedError{Reason: "the request is attended"}, false, 409, "request.ended"},
		{appointments.RefusedError{Broken: request.Broken{Rule: request.RuleRescheduleLimit, Limit: 2}}, false, 409, "booking.rule.reschedule_limit"},
		{appointments.LockedError{Until: time.Now()}, false, 429, "error.rate_limited"},
		{consular.ErrUnauthenticated, false, 401, "error.unauthenticated"},
		{apiclients.ErrUnknownToken, false, 401, "error.unauthenticated"},
		{&consular.RoleError{Role: "officer", Action: "confirm"}, true, 403, "error.role"},
		{&consular.MissionError{Mission: "FR-PAR", Allowed: []string{"AT-VIE"}}, false, 403, "error.mission_scope"},
	} {
		answer, ok := AnswerFor(wrap(c.err), c.forStaff)
		if !ok || answer.Status != c.status || answer.Key != c.key {
			t.Errorf("%T (staff %v): %d %q (%v), want %d %q", c.err, c.forStaff, answer.Status, answer.Key, ok, c.status, c.key)
		}
		for _, lang := range []string{"en", "fa"} {
			if _, found := messages[lang][answer.Key]; !found {
				t.Errorf("%s: no %s message", answer.Key, lang)
			}
		}
	}
	if answer, _ := AnswerFor(&submission.Refused{Problems: []consular.Problem{{Field: "x"}}}, false); len(answer.Problems) != 1 {
		t.Error("an invalid application's answer lost its problems")
	}
	if _, ok := AnswerFor(fmt.Errorf("database down"), true); ok {
		t.Error("a failure was taken for an outcome")
	}
	if _, ok := AnswerFor(nil, true); ok {
		t.Error("no error was taken for an outcome")
	}
}
